import type { FastifyInstance } from 'fastify';
import { OutpostError } from '../../core/errors.js';
import { applyQueueAction, isQueueAction, type QueueAction, removeMessage } from '../../queue/operations.js';
import {
  type MessageRow,
  type QueueFilter,
  RECIPIENT_STATUSES,
  type RecipientRow,
  type Store,
} from '../../queue/store/types.js';
import { type AdminContext, finishAction, frameOf, param, sendPage } from './context.js';
import { headerValues, parseHeaders } from './headers.js';
import { html, type SafeHtml } from './html.js';
import { ADMIN_PREFIX, actionButton, page, when } from './layout.js';
import type { AdminSession } from './session.js';

const LIST_LIMIT = 200;

/** The operator actions on a message: the CLI's and the API's (src/queue/operations.ts), and remove. */
type AdminQueueAction = QueueAction | 'remove';

function isAdminQueueAction(name: string): name is AdminQueueAction {
  return name === 'remove' || isQueueAction(name);
}

/** Applies an action; returns how many recipients it changed (1 for a removed message). */
async function applyAdminAction(store: Store, id: string, action: AdminQueueAction): Promise<number> {
  if (action !== 'remove') return (await applyQueueAction(store, id, action)).changed;
  await removeMessage(store, id);
  return 1;
}

function filterOf(query: Record<string, unknown>): QueueFilter {
  const filter: QueueFilter = { limit: LIST_LIMIT };
  const status = typeof query.status === 'string' ? query.status : '';
  const known = RECIPIENT_STATUSES.find((s) => s === status);
  if (known) filter.status = known;
  if (typeof query.sender === 'string' && query.sender.trim()) filter.sender = query.sender.trim();
  if (typeof query.recipient === 'string' && query.recipient.trim())
    filter.recipient = query.recipient.trim();
  return filter;
}

function messageLink(id: string): SafeHtml {
  return html`<a href="${ADMIN_PREFIX}/queue/${encodeURIComponent(id)}">${id}</a>`;
}

function recipientRows(rows: RecipientRow[]): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">No recipients match.</p>`;
  return html`<table class="rows">
<thead><tr><th>Queue id</th><th>Recipient</th><th>Status</th><th>Folder</th><th>Attempts</th><th>Next try</th><th>Last reply</th></tr></thead>
<tbody>${rows.map(
    (row) => html`<tr>
<td>${messageLink(row.messageId)}</td><td>${row.address}</td><td><span class="status ${row.status}">${row.status}</span></td>
<td>${row.folder || 'INBOX'}</td><td>${row.attempts}</td><td>${when(row.nextAttemptAt)}</td><td class="reply">${row.lastReply ?? ''}</td>
</tr>`,
  )}</tbody></table>`;
}

function filterForm(filter: QueueFilter): SafeHtml {
  const options = RECIPIENT_STATUSES.map(
    (status) =>
      html`<option value="${status}"${filter.status === status ? html` selected` : ''}>${status}</option>`,
  );
  return html`<form method="get" action="${ADMIN_PREFIX}/queue" class="filters">
<label>Status <select name="status"><option value="">any</option>${options}</select></label>
<label>Sender <input name="sender" value="${filter.sender ?? ''}"></label>
<label>Recipient <input name="recipient" value="${filter.recipient ?? ''}"></label>
<button type="submit">Filter</button>
</form>`;
}

function messageActions(session: AdminSession, id: string): SafeHtml {
  const base = `${ADMIN_PREFIX}/queue/${encodeURIComponent(id)}`;
  return html`<div class="actions">
${actionButton(session, `${base}/hold`, 'Hold')}
${actionButton(session, `${base}/release`, 'Release')}
${actionButton(session, `${base}/flush`, 'Flush')}
${actionButton(session, `${base}/requeue`, 'Requeue')}
${actionButton(session, `${base}/remove`, 'Remove', { confirm: `Remove message ${id} from the queue?`, danger: true })}
</div>`;
}

function messageView(session: AdminSession, message: MessageRow, body: Buffer | undefined): SafeHtml {
  const headers = body ? parseHeaders(body) : [];
  const authResults = headerValues(headers, 'Authentication-Results');
  const verdict = headerValues(headers, 'X-Outpost-Verdict');
  const meta = Object.entries(message.meta).map(
    ([key, value]) =>
      html`<tr><th>${key}</th><td>${typeof value === 'string' ? value : JSON.stringify(value)}</td></tr>`,
  );
  return html`${messageActions(session, message.id)}
<section>
<h2>Envelope</h2>
<table class="facts">
<tr><th>Queue id</th><td>${message.id}</td></tr>
<tr><th>Sender</th><td>&lt;${message.sender}&gt;</td></tr>
<tr><th>Received</th><td>${when(message.receivedAt)}</td></tr>
<tr><th>Size</th><td>${message.size} bytes</td></tr>
${message.envid ? html`<tr><th>ENVID</th><td>${message.envid}</td></tr>` : ''}
${meta}
</table>
</section>
<section>
<h2>Recipients</h2>
${recipientRows(message.recipients)}
</section>
<section>
<h2>Authentication-Results</h2>
${
  authResults.length === 0
    ? html`<p class="empty">None recorded.</p>`
    : authResults.map((value) => html`<pre class="auth-results">${value}</pre>`)
}
${verdict.map((value) => html`<p class="verdict">X-Outpost-Verdict: ${value}</p>`)}
</section>
<section>
<h2>Headers</h2>
${
  body
    ? html`<table class="headers">${headers.map((field) => html`<tr><th>${field.name}</th><td>${field.value}</td></tr>`)}</table>`
    : html`<p class="error">The message body is missing from the store.</p>`
}
</section>`;
}

/** Queue pages: filtered list, one message with headers and recipients, operator actions. */
export function queueRoutes(context: AdminContext) {
  const { store } = context.deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get(`${ADMIN_PREFIX}/queue`, async (request, reply) => {
      const filter = filterOf(request.query as Record<string, unknown>);
      const rows = await store.list(filter);
      const content = html`${filterForm(filter)}${recipientRows(rows)}${
        rows.length === LIST_LIMIT
          ? html`<p class="more">Showing the first ${LIST_LIMIT}; narrow the filter.</p>`
          : ''
      }`;
      return sendPage(reply, page(frameOf(context, request, 'queue'), 'Queue', content));
    });

    app.get(`${ADMIN_PREFIX}/queue/:id`, async (request, reply) => {
      const id = param(request, 'id');
      const message = await store.message(id);
      if (!message) throw new OutpostError('NOT_FOUND', `No message ${id} in the queue`);
      const body = await store.body(id);
      const view = messageView(context.sessionOf(request), message, body);
      return sendPage(reply, page(frameOf(context, request, 'queue'), `Message ${id}`, view));
    });

    app.post(`${ADMIN_PREFIX}/queue/:id/:action`, async (request, reply) => {
      const id = param(request, 'id');
      const action = param(request, 'action');
      if (!isAdminQueueAction(action)) throw new OutpostError('NOT_FOUND', `No queue action ${action}`);
      const changed = await applyAdminAction(store, id, action);
      const back = action === 'remove' ? '/queue' : `/queue/${encodeURIComponent(id)}`;
      return finishAction(request, reply, back, action, changed);
    });
  };
}
