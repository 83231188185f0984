import { parseAddress } from './network.js';

/**
 * Finding the sending address in a complaint's evidence when the reporter did not name it: the
 * receiver's Authentication-Results (`policy.iprev=`, RFC 8601 iprev) or, failing that, the
 * topmost Received header's bracketed address (RFC 5321 4.4), which the receiving server wrote.
 */

const IPREV_PROPERTY = /\bpolicy\.iprev=("?)([0-9a-fA-F:.]+)\1/;
const BRACKETED = /\[(?:IPv6:)?([0-9a-fA-F:.]+)\]/;

/** The header section of a message (up to the first empty line), unfolded. */
function headerLines(message: string): string[] {
  const end = message.search(/\r?\n\r?\n/);
  const head = end === -1 ? message : message.slice(0, end);
  return head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
}

function valid(candidate: string | undefined): string | undefined {
  return candidate !== undefined && parseAddress(candidate) ? candidate : undefined;
}

/** The address the evidence says the message came from, or undefined. */
export function senderAddress(message: string, authenticationResults = ''): string | undefined {
  const fromResults = valid(IPREV_PROPERTY.exec(authenticationResults)?.[2]);
  if (fromResults) return fromResults;
  for (const line of headerLines(message)) {
    if (/^authentication-results:/i.test(line)) {
      const found = valid(IPREV_PROPERTY.exec(line)?.[2]);
      if (found) return found;
    }
  }
  const received = headerLines(message).find((line) => /^received:/i.test(line));
  return valid(received ? BRACKETED.exec(received)?.[1] : undefined);
}

/** The message's own Authentication-Results headers, when the reporter did not pass them apart. */
export function authenticationResultsOf(message: string): string {
  return headerLines(message)
    .filter((line) => /^authentication-results:/i.test(line))
    .map((line) => line.slice(line.indexOf(':') + 1).trim())
    .join('\n');
}
