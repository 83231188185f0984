import { headerValues } from '../dsn/headers.js';

/** Why a message is never challenged: answering it would hit a machine, a list or a bounce. */
export type Exemption = 'null-sender' | 'precedence' | 'list-id' | 'auto-submitted';

/**
 * The message kinds that must never get a challenge (docs/protocols/challenge.md): the null
 * sender (bounces), `Precedence: bulk|list|junk`, any `List-Id`, and `Auto-Submitted` other than
 * `no` (RFC 3834), so two auto-responders never talk to each other.
 */
export function exemption(sender: string, headers: Buffer | string): Exemption | undefined {
  if (sender === '') return 'null-sender';
  const block = typeof headers === 'string' ? Buffer.from(headers, 'utf8') : headers;
  const precedence = headerValues(block, 'precedence').map(firstToken);
  if (precedence.some((value) => value === 'bulk' || value === 'list' || value === 'junk')) {
    return 'precedence';
  }
  if (headerValues(block, 'list-id').length > 0) return 'list-id';
  if (headerValues(block, 'auto-submitted').some((value) => firstToken(value) !== 'no')) {
    return 'auto-submitted';
  }
  return undefined;
}

/** The keyword of a structured field value, without parameters or comments, lower-cased. */
function firstToken(value: string): string {
  return (
    value
      .replace(/\([^)]*\)/g, ' ')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? ''
  );
}
