import type { ChallengeService } from '../challenge/service.js';
import { userOfTaggedAddress } from '../challenge/tagged.js';
import type { Logger } from '../core/log.js';
import { errorReply, type Reply } from '../core/reply.js';
import type { Forwarding } from '../forward/forwarding.js';
import type { ForwardCopy } from '../forward/plan.js';
import { xgenVerb } from '../gen/xgen.js';
import { formatAuthResults } from '../pipeline/auth-results.js';
import type { SessionInfo, SmtpHandlers, Transaction } from '../protocol/smtp/types.js';
import { newQueueId } from '../queue/ids.js';
import type { NewRecipient, Store } from '../queue/store/types.js';
import { acceptLocalRecipient, challengeDisposition, confirmedRecipients } from './challenge-gate.js';
import { expandRecipient } from './forwarding-gate.js';
import { receivedHeader, stampMessage, withoutForgedAuthResults } from './headers.js';
import type { ListenerPolicy, Quarantine } from './policy.js';
import type { LocalRecipients, RecipientRoute } from './recipients.js';

export interface InboundDeps {
  listenerName: string;
  hostname: () => string;
  recipients: LocalRecipients;
  store: Store;
  policy: ListenerPolicy;
  logger: Logger;
  /** Called after a message is durable, so local delivery starts at once. */
  onQueued: () => void;
  /** The delivery target of a routed recipient; default maildir for local, smtp for remote. */
  targetFor?: (route: RecipientRoute) => Promise<string>;
  /** Challenge/response for users who opted in (MX profiles only). */
  challenges?: ChallengeService;
  /** Aliases that forward elsewhere and SRS bounce addresses (MX profiles only). */
  forwarding?: Forwarding;
}

const defaultTargetFor = async (route: RecipientRoute): Promise<string> =>
  route.kind === 'local' ? 'maildir' : 'smtp';

/**
 * The plain MX profile: accepts mail for our local mailboxes from anyone, runs the listener's
 * checks at each stage, never relays. Relay authorization is not a check: a remote recipient is
 * refused here, whatever the config says.
 */
export function mxHandlers(deps: InboundDeps): SmtpHandlers {
  const { policy } = deps;
  return {
    connect: (session) => policy.run('connect', session),
    helo: (session) => policy.run('helo', session),

    async mailFrom(session, from, params) {
      policy.beginTransaction(session);
      return policy.run('mail', session, { tx: { from, params, recipients: [] } });
    },

    async rcptTo(session, tx, rcpt) {
      const delayed = policy.delayedRefusal(session);
      if (delayed) return delayed;
      const route = deps.recipients.route(rcpt.address);
      if (route.kind === 'remote') return errorReply('RELAY_DENIED');
      if (deps.forwarding && (await deps.forwarding.bounceRecipient(route.address)) !== undefined) {
        return policy.run('rcpt', session, { tx, rcpt: route.address });
      }
      const answered = await acceptLocalRecipient(
        deps.recipients,
        deps.challenges,
        session,
        tx,
        route.address,
      );
      if (answered) return answered;
      return policy.run('rcpt', session, { tx, rcpt: route.address });
    },

    async data(session, tx, message) {
      const confirmations = confirmedRecipients(session);
      const mail = { ...tx, recipients: tx.recipients.filter((r) => !confirmations.has(r.address)) };
      confirmations.clear();
      if (mail.recipients.length === 0)
        return { code: 250, enhanced: '2.0.0', text: 'Confirmation received' };
      const refusal = await policy.run('data', session, { tx: mail, message });
      if (refusal) return refusal;
      return enqueueMessage(deps, session, mail, message, verdictHeaders(deps, session));
    },

    verbs: { XGEN: xgenVerb },
  };
}

/** Authentication-Results, and the verdict mark when quarantined (whatever folder the message goes to). */
export function verdictHeaderText(
  deps: InboundDeps,
  session: SessionInfo,
  quarantine: Quarantine | undefined,
): string {
  const results = formatAuthResults(deps.hostname(), deps.policy.allResults(session));
  if (quarantine === undefined) return results;
  const reason =
    quarantine.reason === undefined ? '' : `; reason="${quarantine.reason.replace(/["\\\r\n]/g, ' ')}"`;
  return `${results}X-Outpost-Verdict: quarantine; check=${quarantine.by}${reason}\r\n`;
}

/** Authentication-Results for everything the checks found, and the Junk folder when quarantined. */
function verdictHeaders(deps: InboundDeps, session: SessionInfo): EnqueueOptions {
  if (!deps.policy.hasChecks) return {};
  const quarantine = deps.policy.quarantine(session);
  const extraHeaders = verdictHeaderText(deps, session, quarantine);
  return quarantine === undefined ? { extraHeaders } : { folder: 'Junk', extraHeaders, quarantined: true };
}

/** How a message is filed: its local folder, the headers our checks add, and whether it is quarantined. */
export interface EnqueueOptions {
  folder?: string;
  extraHeaders?: string;
  /**
   * Suspect mail: copies forwarded to other domains wait as 'quarantined' for an operator's release
   * instead of leaving, so that outpost never passes on to others what it would not deliver to an inbox.
   */
  quarantined?: boolean;
}

/** Stamps trace headers, stores durably, and answers 250 with the queue id only after the commit. */
export async function enqueueMessage(
  deps: InboundDeps,
  session: SessionInfo,
  tx: Transaction,
  message: Buffer,
  options: EnqueueOptions = {},
): Promise<Reply> {
  const id = newQueueId();
  const now = Date.now();
  const hostname = deps.hostname();
  const body = stampMessage(withoutForgedAuthResults(message, hostname), {
    received: receivedHeader({ session, tx, hostname, queueId: id, now }),
    hostname,
    queueId: id,
    now,
    ...(options.extraHeaders === undefined ? {} : { extraHeaders: options.extraHeaders }),
  });
  const held: { rcptIndex: number; user: string }[] = [];
  const recipients: NewRecipient[] = [];
  const copies: ForwardCopy[] = [];
  for (const rcpt of tx.recipients) {
    const expansion = await expandRecipient(deps.forwarding, deps, session, tx, body, rcpt.address);
    copies.push(...expansion.copies);
    for (const route of expansion.routes) {
      const planned = await planRecipient(deps, session, tx, message, route, options.folder);
      if (planned.holdFor !== undefined) held.push({ rcptIndex: recipients.length, user: planned.holdFor });
      recipients.push({
        ...planned.recipient,
        ...(rcpt.params.orcpt === undefined ? {} : { orcpt: rcpt.params.orcpt }),
        ...(rcpt.params.notify === undefined ? {} : { notify: rcpt.params.notify }),
      });
    }
  }
  const meta = {
    listener: deps.listenerName,
    session: session.id,
    client: session.remoteAddress,
    helo: session.helo ?? null,
    ...(session.user ? { user: session.user } : {}),
    ...(session.tls ? { tls: session.tls.protocol } : {}),
  };
  // Every copy is durable before the 250; each is its own queue message (its own sender and body).
  await Promise.all(
    copies.map((copy) =>
      deps.store.enqueue({
        id: newQueueId(),
        sender: copy.sender,
        body: copy.body,
        receivedAt: now,
        meta: {
          ...meta,
          forwardOf: id,
          ...(copy.unsealed ? { unsealed: copy.unsealed } : {}),
          ...(options.quarantined ? { quarantined: true } : {}),
        },
        recipients: options.quarantined
          ? copy.recipients.map((recipient) => ({ ...recipient, status: 'quarantined' as const }))
          : copy.recipients,
      }),
    ),
  );
  if (recipients.length === 0) {
    deps.onQueued();
    return { code: 250, enhanced: '2.0.0', text: `Ok: forwarded as ${id}` };
  }
  await deps.store.enqueue({
    id,
    sender: tx.from,
    body,
    receivedAt: now,
    ...(tx.params.envid === undefined ? {} : { envid: tx.params.envid }),
    ...(tx.params.ret === undefined ? {} : { ret: tx.params.ret }),
    meta,
    recipients,
  });
  deps.logger.info(
    {
      queueId: id,
      listener: deps.listenerName,
      client: session.remoteAddress,
      from: tx.from,
      rcpts: recipients.length,
      size: body.length,
    },
    'queued',
  );
  if (held.length > 0 && deps.challenges) await deps.challenges.afterQueued(id, held, tx.from);
  deps.onQueued();
  return { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${id}` };
}

/** One recipient's queue row: its target, folder, and whether it waits for a challenge answer. */
async function planRecipient(
  deps: InboundDeps,
  session: SessionInfo,
  tx: Transaction,
  message: Buffer,
  route: RecipientRoute,
  folder: string | undefined,
): Promise<{ recipient: NewRecipient; holdFor?: string }> {
  const target = await (deps.targetFor ?? defaultTargetFor)(route);
  const base = { address: route.address, target, ...(folder === undefined ? {} : { folder }) };
  if (route.kind !== 'local' || !deps.challenges) return { recipient: base };
  const disposition = await challengeDisposition(
    deps.challenges,
    deps.policy,
    session,
    tx,
    route.address,
    message,
  );
  const mailbox = disposition.kind === 'hold' ? disposition.user : await mailboxOf(deps, route.address);
  const recipient = { ...base, address: mailbox };
  if (disposition.kind === 'hold') return { recipient: { ...recipient, status: 'held' }, holdFor: mailbox };
  if (disposition.kind === 'junk') return { recipient: { ...recipient, folder: 'Junk' } };
  return { recipient };
}

/** The mailbox a (possibly tagged) local address delivers to. */
async function mailboxOf(deps: InboundDeps, address: string): Promise<string> {
  if (address.startsWith('postmaster@') || (await deps.store.getUser(address))) return address;
  return userOfTaggedAddress(address) ?? address;
}
