import { OutpostError } from '../core/errors.js';
import { contains, parseAddress, parseNetwork } from './network.js';
import { ADMISSION_RULES, ATTESTED_RULES } from './rules.js';
import type { TrustListStore } from './store.js';
import type { Attestation, Complaint, Entry, NewComplaint, ProbeRecord } from './types.js';

/**
 * The list's rules for complaints, removals and relisting. Complaints are evidence about one
 * address; enough of them, from enough different reporters, within a window, delist the entry that
 * lists it automatically, with the count published as the reason in TXT. A delisted entry may be
 * relisted after a cooling-off period (or at once, by an operator who forces it), which settles
 * the complaints that led to it.
 */
export interface ListPolicy {
  /** Open complaints within the window that delist an entry. */
  complaintThreshold: number;
  /** Distinct reporters among them: one reporter alone cannot delist anybody. */
  minReporters: number;
  windowDays: number;
  /** Days a delisted entry waits before it may be relisted without force. */
  relistAfterDays: number;
}

/** 3 complaints from 2 reporters within 30 days delist; relisting after 7 days. */
export const DEFAULT_POLICY: ListPolicy = {
  complaintThreshold: 3,
  minReporters: 2,
  windowDays: 30,
  relistAfterDays: 7,
};

/** What filing a complaint did. */
export interface ComplaintOutcome {
  complaint: Complaint;
  /** The entry it counts against (the most specific entry holding the address), if any. */
  entry: Entry | undefined;
  /** Open complaints and distinct reporters against that entry within the window. */
  open: number;
  reporters: number;
  /** True when this complaint delisted the entry. */
  delisted: boolean;
}

/** The actor name the audit log shows for automatic decisions. */
const POLICY_ACTOR = 'policy';

const DAY_MS = 86_400_000;

function daysBefore(now: Date, days: number): string {
  return new Date(now.getTime() - days * DAY_MS).toISOString();
}

/**
 * Records a complaint and applies the threshold. The address's most specific entry decides: a
 * complaint about an address that is excluded, delisted or not covered is kept as evidence only.
 */
export function fileComplaint(
  store: TrustListStore,
  input: NewComplaint,
  policy: ListPolicy,
  actor: string,
): ComplaintOutcome {
  const entry = store.covering(input.ip)[0];
  const complaint = store.addComplaint(input, entry?.network ?? null, actor);
  if (entry?.status !== 'listed') return { complaint, entry, open: 0, reporters: 0, delisted: false };
  const recent = store.complaintsFor(entry.network, {
    since: daysBefore(store.time(), policy.windowDays),
    status: 'open',
  });
  const reporters = new Set(recent.map((item) => item.reporter.toLowerCase())).size;
  const outcome = { complaint, entry, open: recent.length, reporters, delisted: false };
  if (recent.length < policy.complaintThreshold || reporters < policy.minReporters) return outcome;
  const reason =
    `${recent.length} complaints from ${reporters} reporters within ${policy.windowDays} days` +
    ` (latest #${complaint.id})`;
  const delisted = store.remove(entry.network, reason, POLICY_ACTOR);
  return { ...outcome, entry: delisted, delisted: true };
}

/** The holder of a listing asks to be taken off: delisted at once, the request named as reason. */
export function requestRemoval(
  store: TrustListStore,
  network: string,
  requester: string,
  actor: string,
): Entry {
  return store.remove(network, `removed at the request of ${requester.trim() || 'the holder'}`, actor);
}

/** Whether a delisted entry may be relisted now, and why not. */
export function relistDecision(
  entry: Entry,
  policy: ListPolicy,
  now: Date = new Date(),
): { allowed: boolean; why: string } {
  if (entry.status !== 'delisted') return { allowed: false, why: `${entry.network} is ${entry.status}` };
  const earliest = new Date(Date.parse(entry.updatedAt) + policy.relistAfterDays * DAY_MS);
  if (now < earliest) {
    return {
      allowed: false,
      why: `${entry.network} was delisted on ${entry.updatedAt.slice(0, 10)}; it may be relisted from ${earliest.toISOString().slice(0, 10)} (or force it)`,
    };
  }
  return { allowed: true, why: '' };
}

/**
 * Relists a delisted entry under the policy and settles its complaints. `force` skips the waiting
 * period and then needs a reason, which the audit log keeps (as it keeps any reason given).
 */
export function relistEntry(
  store: TrustListStore,
  network: string,
  policy: ListPolicy,
  actor: string,
  options: { force?: boolean; reason?: string } = {},
): Entry {
  const entry = store.get(network);
  if (!entry) throw new OutpostError('NOT_FOUND', `${network} is not on the list`);
  const decision = relistDecision(entry, policy, store.time());
  if (!decision.allowed) {
    if (!(options.force && entry.status === 'delisted')) throw new OutpostError('CONFLICT', decision.why);
    if (!options.reason?.trim()) {
      throw new OutpostError('BAD_REQUEST', 'a reason is required to relist before the waiting period ends');
    }
  }
  const relisted = store.relist(entry.network, actor, options.reason?.trim() ? options.reason : undefined);
  store.resolveComplaints(entry.network, actor);
  return relisted;
}

/** Where an applicant network stands against the admission rules. */
export interface AdmissionReport {
  network: string;
  /** The newest probe of an address inside the network. */
  probe: ProbeRecord | undefined;
  attestations: Attestation[];
  /** Rules not yet established: probed rules without a passing probe, attested ones not recorded. */
  missing: string[];
}

/** The admission evidence recorded for a network (probes of its addresses, attestations). */
export function admissionReport(store: TrustListStore, network: string): AdmissionReport {
  const parsed = parseNetwork(network);
  if (!parsed.ok) throw new OutpostError('BAD_REQUEST', parsed.problem);
  const block = parsed.network;
  const probe = store.probes().find((record) => {
    const address = parseAddress(record.ip);
    return address !== undefined && contains(block, address);
  });
  const attestations = store.attestations(block.text);
  const attested = new Set(attestations.map((item) => item.rule));
  const passedRules = new Set(
    (probe?.checks ?? [])
      .map((check) => check.rule)
      .filter((rule) =>
        probe?.checks.filter((check) => check.rule === rule).every((c) => c.outcome === 'pass'),
      ),
  );
  const missing = ADMISSION_RULES.filter((rule) =>
    rule.kind === 'probed' ? !passedRules.has(rule.id) : !attested.has(rule.id),
  ).map((rule) => rule.id);
  return { network: block.text, probe, attestations, missing };
}

/** Checks an attestation's rule id against the rules the operator may attest. */
export function checkAttestedRule(rule: string): string {
  if (!ATTESTED_RULES.includes(rule)) {
    throw new OutpostError('BAD_REQUEST', `'${rule}' is not an attested rule (${ATTESTED_RULES.join(', ')})`);
  }
  return rule;
}
