// Local submission: a message handed over by a program on this machine (`outpost sendmail`) goes
// into the same queue as mail from the network, stamped with the OS user who submitted it.
import { userInfo } from 'node:os';
import { OutpostError } from '../core/errors.js';
import { rfc5322Date } from '../core/time.js';
import { stampMessage } from '../inbound/headers.js';
import type { LocalRecipients } from '../inbound/recipients.js';
import { checkMailbox } from '../protocol/smtp/parser.js';
import { newQueueId } from '../queue/ids.js';
import type { NewRecipient, Store } from '../queue/store/types.js';
import { fromField, hasFromField } from './message.js';

const CRLF = '\r\n';

/** The OS account that runs the submitting program; it is accountable for the message. */
export interface LocalUser {
  name: string;
  uid: number;
}

export function currentLocalUser(): LocalUser {
  const info = userInfo();
  return { name: info.username, uid: info.uid };
}

export interface LocalSubmitDeps {
  store: Store;
  recipients: LocalRecipients;
  hostname: string;
  /** Where unqualified addresses belong (the first of our domains). */
  defaultDomain: string;
  /** Target of a local recipient: 'maildir' unless, say, an LMTP server owns its domain. */
  localTarget?: (address: string) => string;
  clock?: () => number;
}

export interface LocalSubmission {
  user: LocalUser;
  /** Envelope sender; '' is the null sender. */
  sender: string;
  recipients: string[];
  /** The message with CRLF line endings. */
  message: Buffer;
  /** -F: display name for the From: field added when the message has none. */
  fullName?: string;
  /** How it came in, for the queue's reception facts: 'sendmail' or 'sendmail -bs'. */
  via: string;
}

/** "alice" -> "alice@<domain>", "<a@b>" -> "a@b"; "postmaster" stays for LocalRecipients. */
export function qualifyAddress(address: string, domain: string): string {
  const bare = address.trim().replace(/^<(.*)>$/, '$1');
  if (bare === '' || bare.includes('@') || bare.toLowerCase() === 'postmaster') return bare;
  return `${bare}@${domain}`;
}

/** The sender when -f is not given: the local user at our first domain. */
export function defaultSender(user: LocalUser, domain: string): string {
  return `${user.name}@${domain}`;
}

function localReceived(user: LocalUser, hostname: string, id: string, now: number, only?: string): string {
  const forClause = only === undefined ? '' : `${CRLF}\tfor <${only}>`;
  return (
    `Received: from local user ${user.name} (uid ${user.uid})${CRLF}\tby ${hostname} (outpost sendmail) id ${id}` +
    `${forClause};${CRLF}\t${rfc5322Date(now)}${CRLF}`
  );
}

function requireSyntax(address: string, allowNull: boolean): void {
  const problem = checkMailbox(address, { allowNull, allowPostmaster: !allowNull, smtputf8: true });
  if (problem !== undefined)
    throw new OutpostError('BAD_ADDRESS', `${JSON.stringify(address)}: ${problem.text}`);
}

/**
 * Checks one recipient as RCPT TO would (syntax, a mailbox for a local address) and returns where
 * it goes. Throws BAD_ADDRESS or NO_SUCH_USER.
 */
export async function routeLocalRecipient(deps: LocalSubmitDeps, address: string): Promise<NewRecipient> {
  const qualified = qualifyAddress(address, deps.defaultDomain);
  requireSyntax(qualified, false);
  const route = deps.recipients.route(qualified);
  if (route.kind === 'remote') return { address: route.address, target: 'smtp' };
  await deps.recipients.requireMailbox(route.address);
  return { address: route.address, target: deps.localTarget?.(route.address) ?? 'maildir' };
}

/** Queues a locally submitted message durably; resolves with its queue id once it is on disk. */
export async function submitLocal(
  deps: LocalSubmitDeps,
  submission: LocalSubmission,
): Promise<{ id: string; recipients: NewRecipient[] }> {
  const sender = qualifyAddress(submission.sender, deps.defaultDomain);
  if (sender !== '') requireSyntax(sender, true);
  if (submission.recipients.length === 0) throw new OutpostError('BAD_REQUEST', 'no recipients');
  const recipients: NewRecipient[] = [];
  for (const address of submission.recipients) {
    const routed = await routeLocalRecipient(deps, address);
    if (!recipients.some((r) => r.address === routed.address)) recipients.push(routed);
  }
  const id = newQueueId();
  const now = (deps.clock ?? Date.now)();
  const author = sender === '' ? defaultSender(submission.user, deps.defaultDomain) : sender;
  const body = stampMessage(submission.message, {
    received: localReceived(
      submission.user,
      deps.hostname,
      id,
      now,
      recipients.length === 1 ? recipients[0]?.address : undefined,
    ),
    hostname: deps.hostname,
    queueId: id,
    now,
    ...(hasFromField(submission.message) ? {} : { extraHeaders: fromField(author, submission.fullName) }),
  });
  await deps.store.enqueue({
    id,
    sender,
    body,
    receivedAt: now,
    meta: { listener: submission.via, localUser: submission.user.name, uid: submission.user.uid },
    recipients,
  });
  return { id, recipients };
}
