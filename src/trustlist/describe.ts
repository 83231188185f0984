import type { ComplaintOutcome } from './policy.js';
import type { ProbeResult } from './probe.js';
import type { AuditRecord, Complaint, Entry } from './types.js';

/** One-line and few-line texts of trust list records, for the CLI. */

/** "192.0.2.0/24  listed  127.0.3.2  "text"  contact" */
export function entryLine(entry: Entry): string {
  const code = entry.status === 'excluded' ? '-' : `127.0.${entry.category}.${entry.trust}`;
  const parts = [entry.network.padEnd(20), entry.status.padEnd(9), code.padEnd(12)];
  if (entry.text) parts.push(JSON.stringify(entry.text));
  if (entry.reason) parts.push(`reason: ${entry.reason}`);
  if (entry.contact) parts.push(`contact: ${entry.contact}`);
  return parts.join(' ').trimEnd();
}

export function complaintLine(complaint: Omit<Complaint, 'message'>): string {
  return `#${complaint.id} ${complaint.receivedAt} ${complaint.ip} ${complaint.status} from ${complaint.reporter}`;
}

/** What filing a complaint did, in a sentence or two. */
export function complaintOutcomeLines(outcome: ComplaintOutcome): string[] {
  const lines = [`complaint #${outcome.complaint.id} about ${outcome.complaint.ip} recorded`];
  if (!outcome.entry) lines.push('the address is not on the list: kept as evidence only');
  else if (outcome.delisted) lines.push(`${outcome.entry.network} delisted: ${outcome.entry.reason}`);
  else if (outcome.entry.status !== 'listed')
    lines.push(`${outcome.entry.network} is ${outcome.entry.status}: kept as evidence only`);
  else
    lines.push(
      `${outcome.entry.network}: ${outcome.open} open complaints from ${outcome.reporters} reporters`,
    );
  return lines;
}

export function auditLine(record: AuditRecord): string {
  return `${record.at} ${record.actor} ${record.action} ${record.subject}`;
}

/** A probe's checks, one per line, then the verdict. */
export function probeLines(result: ProbeResult): string[] {
  return [
    ...result.checks.map(
      (check) => `${check.outcome.padEnd(12)} ${check.rule}: ${check.test}: ${check.detail}`,
    ),
    `probe ${result.passed ? 'PASSED' : 'FAILED'} for ${result.ip}:${result.port} (${result.domain})`,
    `operator attests separately: ${result.toAttest.join(', ')}`,
  ];
}
