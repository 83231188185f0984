/**
 * The admission rules of a trust list, after the "ten commandments of mail serving" (NANOG, 2003):
 * what a server must do to be listed. Some can be probed from outside; the rest the operator
 * checks by other means and records as attestations.
 */

/** How a rule is established: by an admission probe, or by the operator's attestation. */
export type RuleKind = 'probed' | 'attested';

/** One admission rule. */
export interface AdmissionRule {
  id: string;
  kind: RuleKind;
  description: string;
}

/** Every admission rule, probed ones first. */
export const ADMISSION_RULES: readonly AdmissionRule[] = [
  {
    id: 'no-open-relay',
    kind: 'probed',
    description: 'refuses to relay for foreign domains, in every address trick',
  },
  {
    id: 'valid-reverse-dns',
    kind: 'probed',
    description: 'forward-confirmed reverse DNS for the sending address',
  },
  {
    id: 'server-key-published',
    kind: 'probed',
    description: 'a server-signature (DKIM) key at <selector>._domainkey.<domain>',
  },
  { id: 'abuse-contact', kind: 'probed', description: 'an abuse contact whose domain accepts mail' },
  { id: 'no-viruses', kind: 'attested', description: 'scans outgoing mail; distributes no viruses' },
  { id: 'no-bulk-mail', kind: 'attested', description: 'sends no unsolicited bulk mail; handles complaints' },
];

/** The ids of rules the operator attests. */
export const ATTESTED_RULES = ADMISSION_RULES.filter((rule) => rule.kind === 'attested').map(
  (rule) => rule.id,
);
