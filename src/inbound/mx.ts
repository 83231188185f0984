import { errorReply, type Reply } from '../core/reply.js';
import type { Logger } from '../core/log.js';
import { newQueueId } from '../queue/ids.js';
import type { NewRecipient, Store } from '../queue/store/types.js';
import type { SessionInfo, SmtpHandlers, Transaction } from '../protocol/smtp/types.js';
import { receivedHeader, stampMessage } from './headers.js';
import type { LocalRecipients } from './recipients.js';

export interface InboundDeps {
  listenerName: string;
  hostname: () => string;
  recipients: LocalRecipients;
  store: Store;
  logger: Logger;
  /** Called after a message is durable, so local delivery starts at once. */
  onQueued: () => void;
}

/**
 * The plain MX profile: accepts mail for our local mailboxes from anyone, never relays.
 * Relay authorization is not a check: a remote recipient is refused here, whatever the config says.
 */
export function mxHandlers(deps: InboundDeps): SmtpHandlers {
  return {
    async mailFrom() {
      return undefined;
    },

    async rcptTo(_session, _tx, rcpt) {
      const route = deps.recipients.route(rcpt.address);
      if (route.kind === 'remote') return errorReply('RELAY_DENIED');
      await deps.recipients.requireMailbox(route.address);
      return undefined;
    },

    async data(session, tx, message) {
      return enqueueMessage(deps, session, tx, message);
    },
  };
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
  const body = stampMessage(message, {
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
