import type { FastifyInstance } from 'fastify';
import { OutpostError } from '../../core/errors.js';
import type { RecipientRow } from '../../queue/store/types.js';
import { type AdminContext, finishAction, frameOf, param, sendPage } from './context.js';
import type { AdminDeps } from './deps.js';
import { headerValues, parseHeaders } from './headers.js';
import { html, type SafeHtml } from './html.js';
import { ADMIN_PREFIX, actionButton, page, when } from './layout.js';
import type { AdminSession } from './session.js';

/** The folder quarantined mail is filed into (DESIGN.md "Checks": quarantine = Junk + verdict header). */
const JUNK = 'Junk';

/** How far back the page looks for Junk-filed recipients. */
const SCAN_LIMIT = 1000;

/** A recipient is in quarantine when held as 'quarantined' or filed (or about to be) into Junk. */
function inQuarantine(row: RecipientRow): boolean {
  return row.status === 'quarantined' || row.folder === JUNK;
}

/** A quarantined message and why: its recipients in quarantine and the verdict it carries. */
interface QuarantinedMessage {
  id: string;
  sender: string;
  receivedAt: number;
  subject: string;
  verdict: string;
  recipients: RecipientRow[];
}

async function quarantined(deps: AdminDeps): Promise<QuarantinedMessage[]> {
  const held = await deps.store.list({ status: 'quarantined', limit: SCAN_LIMIT });
  const all = await deps.store.list({ limit: SCAN_LIMIT });
  const byMessage = new Map<string, RecipientRow[]>();
  for (const row of [...held, ...all]) {
    if (!inQuarantine(row)) continue;
    const rows = byMessage.get(row.messageId) ?? [];
    if (!rows.some((known) => known.rcptIndex === row.rcptIndex)) rows.push(row);
    byMessage.set(row.messageId, rows);
  }
  const messages: QuarantinedMessage[] = [];
  for (const [id, recipients] of byMessage) {
    const message = await deps.store.message(id);
    if (!message) continue;
    const body = await deps.store.body(id);
    const headers = body ? parseHeaders(body) : [];
    const metaVerdict = typeof message.meta.verdict === 'string' ? message.meta.verdict : '';
    messages.push({
      id,
      sender: message.sender,
      receivedAt: message.receivedAt,
      subject: headerValues(headers, 'Subject')[0] ?? '',
      verdict: headerValues(headers, 'X-Outpost-Verdict')[0] ?? metaVerdict,
      recipients,
    });
  }
  return messages.sort((a, b) => b.receivedAt - a.receivedAt);
}

/**
 * Releases a message from quarantine into the INBOX: recipients held as 'quarantined' go back to
 * 'queued'; Junk-filed ones are moved to the INBOX folder and queued again.
 */
export async function releaseFromQuarantine(deps: AdminDeps, id: string): Promise<number> {
  const message = await deps.store.message(id);
  if (!message) throw new OutpostError('NOT_FOUND', `No message ${id} in the queue`);
  const junk = message.recipients.filter((row) => row.folder === JUNK);
  let changed = 0;
  for (const row of junk) changed += await deps.store.setFolder(id, '', row.rcptIndex);
  for (const row of message.recipients) {
    if (row.status === 'quarantined' && row.folder !== JUNK) {
      changed += await deps.store.setStatus(id, ['quarantined'], 'queued', row.rcptIndex);
    }
  }
  return changed;
}

function quarantineTable(session: AdminSession, messages: QuarantinedMessage[]): SafeHtml {
  if (messages.length === 0) return html`<p class="empty">Nothing in quarantine.</p>`;
  return html`<table class="rows quarantine">
<thead><tr><th>Received</th><th>Queue id</th><th>Sender</th><th>Subject</th><th>Recipients</th><th>Verdict</th><th></th></tr></thead>
<tbody>${messages.map((message) => {
    const base = `${ADMIN_PREFIX}/quarantine/${encodeURIComponent(message.id)}`;
    return html`<tr data-queue-id="${message.id}">
<td>${when(message.receivedAt)}</td>
<td><a href="${ADMIN_PREFIX}/queue/${encodeURIComponent(message.id)}">${message.id}</a></td>
<td>${message.sender}</td><td>${message.subject}</td>
<td>${message.recipients.map((row) => html`<div>${row.address} <span class="status ${row.status}">${row.status}</span>${row.folder ? html` in ${row.folder}` : ''}</div>`)}</td>
<td class="reply">${message.verdict}</td>
<td class="actions">${actionButton(session, `${base}/release`, 'Release to INBOX')}
${actionButton(session, `${base}/discard`, 'Discard', { confirm: `Discard message ${message.id}?`, danger: true })}</td>
</tr>`;
  })}</tbody></table>`;
}

/** Quarantine: messages held or filed into Junk by a check's verdict; release to the INBOX or discard. */
export function quarantineRoutes(context: AdminContext) {
  const { deps } = context;
  return async (app: FastifyInstance): Promise<void> => {
    app.get(`${ADMIN_PREFIX}/quarantine`, async (request, reply) => {
      const content = quarantineTable(context.sessionOf(request), await quarantined(deps));
      return sendPage(reply, page(frameOf(context, request, 'quarantine'), 'Quarantine', content));
    });

    app.post(`${ADMIN_PREFIX}/quarantine/:id/release`, async (request, reply) => {
      const changed = await releaseFromQuarantine(deps, param(request, 'id'));
      return finishAction(request, reply, '/quarantine', 'release', changed);
    });

    app.post(`${ADMIN_PREFIX}/quarantine/:id/discard`, async (request, reply) => {
      const id = param(request, 'id');
      if (!(await deps.store.remove(id)))
        throw new OutpostError('NOT_FOUND', `No message ${id} in the queue`);
      return finishAction(request, reply, '/quarantine', 'discard');
    });
  };
}
