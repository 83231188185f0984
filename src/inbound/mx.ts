import type { Logger } from '../core/log.js';
import { errorReply, type Reply } from '../core/reply.js';
import { formatAuthResults } from '../pipeline/auth-results.js';
import type { SessionInfo, SmtpHandlers, Transaction } from '../protocol/smtp/types.js';
import { newQueueId } from '../queue/ids.js';
import type { NewRecipient, Store } from '../queue/store/types.js';
import { receivedHeader, stampMessage, withoutForgedAuthResults } from './headers.js';
import type { ListenerPolicy } from './policy.js';
import type { LocalRecipients } from './recipients.js';

export interface InboundDeps {
  listenerName: string;
  hostname: () => string;
  recipients: LocalRecipients;
  store: Store;
  policy: ListenerPolicy;
  logger: Logger;
  /** Called after a message is durable, so local delivery starts at once. */
  onQueued: () => void;
}

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
      await deps.recipients.requireMailbox(route.address);
      return policy.run('rcpt', session, { tx, rcpt: route.address });
    },

    async data(session, tx, message) {
      const refusal = await policy.run('data', session, { tx, message });
      if (refusal) return refusal;
      return enqueueMessage(deps, session, tx, message, verdictHeaders(deps, session));
    },
  };
}

/** Authentication-Results for everything the checks found, and the Junk folder when quarantined. */
function verdictHeaders(deps: InboundDeps, session: SessionInfo): { folder?: string; extraHeaders?: string } {
  if (!deps.policy.hasChecks) return {};
  const authservId = deps.hostname();
  let headers = formatAuthResults(authservId, deps.policy.allResults(session));
  const quarantine = deps.policy.quarantine(session);
  if (!quarantine) return { extraHeaders: headers };
  headers += `X-Outpost-Verdict: quarantine; check=${quarantine.by}${quarantine.reason ? `; reason="${quarantine.reason.replace(/["\\\r\n]/g, ' ')}"` : ''}\r\n`;
  return { folder: 'Junk', extraHeaders: headers };
}

/** Stamps trace headers, stores durably, and answers 250 with the queue id only after the commit. */
export async function enqueueMessage(
  deps: InboundDeps,
  session: SessionInfo,
  tx: Transaction,
  message: Buffer,
  options: { folder?: string; extraHeaders?: string } = {},
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
  const recipients: NewRecipient[] = tx.recipients.map((rcpt) => {
    const route = deps.recipients.route(rcpt.address);
    return {
      address: route.address,
      target: route.kind === 'local' ? 'maildir' : 'smtp',
      ...(options.folder === undefined ? {} : { folder: options.folder }),
      ...(rcpt.params.orcpt === undefined ? {} : { orcpt: rcpt.params.orcpt }),
      ...(rcpt.params.notify === undefined ? {} : { notify: rcpt.params.notify }),
    };
  });
  await deps.store.enqueue({
    id,
    sender: tx.from,
    body,
    receivedAt: now,
    ...(tx.params.envid === undefined ? {} : { envid: tx.params.envid }),
    ...(tx.params.ret === undefined ? {} : { ret: tx.params.ret }),
    meta: {
      listener: deps.listenerName,
      session: session.id,
      client: session.remoteAddress,
      helo: session.helo ?? null,
      ...(session.user ? { user: session.user } : {}),
      ...(session.tls ? { tls: session.tls.protocol } : {}),
    },
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
  deps.onQueued();
  return { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${id}` };
}
