/** The records a trust list keeps: entries, complaints, the audit log, probes and attestations. */

/** listed: served; delisted: answered with NODATA and the reason in TXT; excluded: never listed. */
export type EntryStatus = 'listed' | 'delisted' | 'excluded';

/** One network on the list. Excluded entries carry category 0 and trust 0 (nothing is served). */
export interface Entry {
  /** Canonical CIDR: "192.0.2.0/24", "2001:db8::/32". */
  network: string;
  family: 4 | 6;
  prefix: number;
  /** 2..15 (2 financial, 3 email service provider, 4 government, 5 ISP, 6 business, ...). */
  category: number;
  /** 0 none, 1 low, 2 medium, 3 high. */
  trust: number;
  /** TXT template: `$` is the address asked about, `$$` a dollar sign; '' for no TXT. */
  text: string;
  /** Who answers for this network (an abuse address). */
  contact: string;
  status: EntryStatus;
  /** Why it was delisted or excluded; '' while listed. */
  reason: string;
  /** ISO 8601 time of the first listing. */
  listedSince: string;
  /** ISO 8601 time of the last change. */
  updatedAt: string;
}

/** What an operator gives to list (or exclude) a network. */
export interface NewEntry {
  network: string;
  category?: number;
  trust?: number;
  text?: string;
  contact?: string;
  /** Exclude the network from covering listings instead of listing it. */
  exclude?: boolean;
  /** For exclusions: why. */
  reason?: string;
}

/** Fields an update may change. */
export interface EntryChanges {
  category?: number;
  trust?: number;
  text?: string;
  contact?: string;
}

/** open: counts toward delisting; dismissed: judged unfounded; resolved: settled by a relisting. */
export type ComplaintStatus = 'open' | 'dismissed' | 'resolved';

/** A complaint about mail from a listed address, with its evidence. */
export interface Complaint {
  id: number;
  ip: string;
  /** The entry it counts against (the most specific listed network holding ip), or null. */
  network: string | null;
  /** The message complained about, as received (headers and body). */
  message: string;
  /** The receiver's Authentication-Results for it (RFC 8601), as given. */
  authenticationResults: string;
  reporter: string;
  receivedAt: string;
  status: ComplaintStatus;
}

/** What a reporter sends. */
export interface NewComplaint {
  ip: string;
  message: string;
  authenticationResults?: string;
  reporter: string;
}

/** One change to the list, kept forever. */
export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  /** The network, complaint or probe the change is about. */
  subject: string;
  before: unknown;
  after: unknown;
}

/** pass / fail, or inconclusive when the probe could not tell (timeouts, 4xx, refused session). */
export type Outcome = 'pass' | 'fail' | 'inconclusive';

/** One probed fact about an applicant. */
export interface ProbeCheck {
  rule: string;
  test: string;
  outcome: Outcome;
  detail: string;
}

/** An admission probe as recorded: what was tried, what came back. */
export interface ProbeRecord {
  id: number;
  ip: string;
  port: number;
  domain: string;
  startedAt: string;
  passed: boolean;
  checks: ProbeCheck[];
  transcript: string[];
}

/** An admission rule the operator vouches for (it cannot be probed), e.g. "no-viruses". */
export interface Attestation {
  network: string;
  rule: string;
  actor: string;
  at: string;
  note: string;
}
