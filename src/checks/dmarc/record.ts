/** A DMARC policy (RFC 7489 section 6.3). */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** Identifier alignment mode: relaxed (same organizational domain) or strict (same domain). */
export type AlignmentMode = 'r' | 's';

/** The tags of a DMARC record that matter for evaluating one message. */
export interface DmarcRecord {
  p: DmarcPolicy;
  /** Policy for subdomains; undefined means "as p". */
  sp?: DmarcPolicy;
  adkim: AlignmentMode;
  aspf: AlignmentMode;
  /** Percentage of failing messages the policy applies to (0..100). */
  pct: number;
}

/** A parsed record, or why it cannot be used. */
export type ParsedRecord = { ok: true; record: DmarcRecord } | { ok: false; problem: string };

const POLICIES: ReadonlySet<string> = new Set<DmarcPolicy>(['none', 'quarantine', 'reject']);
const VERSION = /^v\s*=\s*DMARC1\s*(;|$)/;
// RFC 7489 6.4: dmarc-uri is a URI (RFC 3986) with an optional "!size" suffix.
const REPORTING_URI = /^[a-z][a-z0-9+.-]*:[^\s,!]+(![0-9]+[kmgt]?)?$/i;

/** True when a TXT record is a DMARC record: it starts with v=DMARC1 (RFC 7489 6.6.3 step 2). */
export function isDmarcRecord(text: string): boolean {
  return VERSION.test(text);
}

function isPolicy(value: string | undefined): value is DmarcPolicy {
  return value !== undefined && POLICIES.has(value);
}

function tagsOf(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const equals = part.indexOf('=');
    if (equals <= 0) continue;
    const name = part.slice(0, equals).trim().toLowerCase();
    // The first of a repeated tag counts; later ones are syntax errors, ignored like other errors.
    if (!tags.has(name)) tags.set(name, part.slice(equals + 1).trim());
  }
  return tags;
}

function alignment(value: string | undefined): AlignmentMode {
  return value?.toLowerCase() === 's' ? 's' : 'r';
}

function percentage(value: string | undefined): number {
  if (value === undefined || !/^\d{1,3}$/.test(value)) return 100;
  const pct = Number(value);
  return Math.min(pct, 100);
}

function hasReportingUri(value: string | undefined): boolean {
  return (value ?? '').split(',').some((uri) => REPORTING_URI.test(uri.trim()));
}

/**
 * Reads a DMARC record (RFC 7489 6.3). Errors in optional tags fall back to their defaults
 * (adkim=r, aspf=r, pct=100); a missing or invalid p, or an invalid sp, makes the record act as
 * p=none when it names a valid rua URI, and unusable otherwise (section 6.6.3 step 6).
 */
export function parseDmarcRecord(text: string): ParsedRecord {
  if (!isDmarcRecord(text)) return { ok: false, problem: 'not a DMARC record' };
  const tags = tagsOf(text);
  const p = tags.get('p')?.toLowerCase();
  const sp = tags.get('sp')?.toLowerCase();
  const common = {
    adkim: alignment(tags.get('adkim')),
    aspf: alignment(tags.get('aspf')),
    pct: percentage(tags.get('pct')),
  };
  if (isPolicy(p) && (sp === undefined || isPolicy(sp))) {
    return { ok: true, record: { p, ...(sp === undefined ? {} : { sp }), ...common } };
  }
  if (hasReportingUri(tags.get('rua'))) return { ok: true, record: { p: 'none', ...common } };
  return {
    ok: false,
    problem: p === undefined ? 'no p= policy' : `invalid policy p=${p}${sp ? ` sp=${sp}` : ''}`,
  };
}
