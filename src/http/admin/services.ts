import type { FastifyInstance } from 'fastify';
import { type AdminContext, finishAction, frameOf, param, requiredField, sendPage } from './context.js';
import type { ChallengeAdmin, Im2000Admin } from './deps.js';
import { html } from './html.js';
import { ADMIN_PREFIX, actionButton, csrfField, page, when } from './layout.js';

/** Challenge/response: messages waiting for their sender's answer; release, discard, whitelist. */
export function challengeRoutes(context: AdminContext, challenge: ChallengeAdmin) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(`${ADMIN_PREFIX}/challenge`, async (request, reply) => {
      const session = context.sessionOf(request);
      const pending = await challenge.list();
      const rows = pending.map((item) => {
        const base = `${ADMIN_PREFIX}/challenge/${encodeURIComponent(item.id)}`;
        return html`<tr><td>${when(item.createdAt)}</td><td>${item.user}</td><td>${item.sender}</td><td>${item.subject ?? ''}</td>
<td class="actions">${actionButton(session, `${base}/release`, 'Release')}
${actionButton(session, `${base}/discard`, 'Discard', { danger: true })}
${actionButton(session, `${ADMIN_PREFIX}/challenge/whitelist`, 'Whitelist sender', { fields: { user: item.user, sender: item.sender } })}</td></tr>`;
      });
      const content = html`${
        rows.length === 0
          ? html`<p class="empty">No messages wait for a challenge answer.</p>`
          : html`<table class="rows"><thead><tr><th>Challenged</th><th>For</th><th>Sender</th><th>Subject</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
      }
<section><h2>Whitelist a sender</h2>
<form method="post" action="${ADMIN_PREFIX}/challenge/whitelist" hx-post="${ADMIN_PREFIX}/challenge/whitelist" hx-target="#flash" class="filters">
${csrfField(session)}<label>User <input name="user" required></label><label>Sender <input name="sender" required></label>
<button type="submit">Whitelist</button></form></section>`;
      return sendPage(reply, page(frameOf(context, request, 'challenge'), 'Challenges', content));
    });

    app.post(`${ADMIN_PREFIX}/challenge/whitelist`, async (request, reply) => {
      await challenge.whitelist(requiredField(request, 'user'), requiredField(request, 'sender'));
      return finishAction(request, reply, '/challenge', 'whitelist');
    });

    app.post(`${ADMIN_PREFIX}/challenge/:id/release`, async (request, reply) => {
      await challenge.release(param(request, 'id'));
      return finishAction(request, reply, '/challenge', 'release');
    });

    app.post(`${ADMIN_PREFIX}/challenge/:id/discard`, async (request, reply) => {
      await challenge.discard(param(request, 'id'));
      return finishAction(request, reply, '/challenge', 'discard');
    });
  };
}

/** IM2000: messages this post office keeps for its senders, per-recipient status, recall. */
export function im2000Routes(context: AdminContext, im2000: Im2000Admin) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(`${ADMIN_PREFIX}/im2000`, async (request, reply) => {
      const session = context.sessionOf(request);
      const sent = await im2000.sent();
      const rows = sent.map(
        (
          message,
        ) => html`<tr><td>${when(message.sentAt)}</td><td>${message.id}</td><td>${message.sender}</td><td>${message.subject ?? ''}</td>
<td>${message.recipients.map((rcpt) => html`<div>${rcpt.address} <span class="status ${rcpt.status}">${rcpt.status}</span> ${when(rcpt.at)}</div>`)}</td>
<td>${actionButton(session, `${ADMIN_PREFIX}/im2000/${encodeURIComponent(message.id)}/recall`, 'Recall', { confirm: `Recall ${message.id}?`, danger: true })}</td></tr>`,
      );
      const content =
        rows.length === 0
          ? html`<p class="empty">No IM2000 messages stored.</p>`
          : html`<table class="rows"><thead><tr><th>Sent</th><th>Id</th><th>Sender</th><th>Subject</th><th>Recipients</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
      return sendPage(reply, page(frameOf(context, request, 'im2000'), 'IM2000', content));
    });

    app.post(`${ADMIN_PREFIX}/im2000/:id/recall`, async (request, reply) => {
      await im2000.recall(param(request, 'id'));
      return finishAction(request, reply, '/im2000', 'recall');
    });
  };
}
