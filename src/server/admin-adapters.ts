// The admin console speaks in small interfaces of its own; these adapt the services to them.
import type { ChallengeService } from '../challenge/service.js';
import type { ChallengeAdmin, Im2000Admin } from '../http/admin/deps.js';
import type { PostOffice } from '../im2000/index.js';

const LISTED = 500;

export function challengeAdmin(service: ChallengeService): ChallengeAdmin {
  return {
    list: () =>
      service.listPending({ limit: LISTED }).map((entry) => ({
        id: String(entry.id),
        user: entry.user,
        sender: entry.sender,
        queueId: entry.queueId,
        subject: entry.subject,
        createdAt: entry.createdAt,
      })),
    release: (id) => service.release(Number(id), { whitelist: true }),
    discard: (id) => service.discard(Number(id)),
    whitelist: (user, sender) => service.addToWhitelist(user, sender),
  };
}

export function im2000Admin(postOffice: PostOffice): Im2000Admin {
  return {
    sent: () =>
      postOffice.store.recent(LISTED).map((message) => ({
        id: message.id,
        sender: message.from,
        subject: message.subject,
        sentAt: message.createdAt,
        recipients: message.recipients.map((r) => ({
          address: r.address,
          status: r.status,
          ...((r.receiptedAt ?? r.fetchedAt ?? r.notifiedAt)
            ? { at: r.receiptedAt ?? r.fetchedAt ?? r.notifiedAt }
            : {}),
        })),
      })),
    recall: (id) => postOffice.recall(id),
  };
}
