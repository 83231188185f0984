import type { FastifyInstance } from 'fastify';
import { OutpostError } from '../../core/errors.js';
import { DEFAULT_POLICY, relistEntry } from '../../trustlist/policy.js';
import type { TrustListStore } from '../../trustlist/store.js';
import type { AuditRecord, Complaint, Entry, EntryStatus } from '../../trustlist/types.js';
import { type AdminContext, finishAction, formField, frameOf, requiredField, sendPage } from './context.js';
import { html, type SafeHtml } from './html.js';
import { ADMIN_PREFIX, csrfField, page } from './layout.js';
import type { AdminSession } from './session.js';

const ENTRY_STATUSES: EntryStatus[] = ['listed', 'delisted', 'excluded'];
const ENTRY_LIMIT = 500;
const AUDIT_LIMIT = 100;

function entryLink(network: string): SafeHtml {
  return html`<a href="${ADMIN_PREFIX}/trustlist/entry?network=${encodeURIComponent(network)}">${network}</a>`;
}

function entriesTable(entries: Entry[]): SafeHtml {
  if (entries.length === 0) return html`<p class="empty">No entries.</p>`;
  return html`<table class="rows">
<thead><tr><th>Network</th><th>Status</th><th>Category</th><th>Trust</th><th>Contact</th><th>Reason</th><th>Updated</th></tr></thead>
<tbody>${entries.map(
    (
      entry,
    ) => html`<tr><td>${entryLink(entry.network)}</td><td><span class="status ${entry.status}">${entry.status}</span></td>
<td>${entry.category}</td><td>${entry.trust}</td><td>${entry.contact}</td><td class="reply">${entry.reason}</td><td>${entry.updatedAt}</td></tr>`,
  )}</tbody></table>`;
}

function auditTable(records: AuditRecord[]): SafeHtml {
  if (records.length === 0) return html`<p class="empty">No changes recorded.</p>`;
  return html`<table class="rows audit">
<thead><tr><th>At</th><th>Actor</th><th>Action</th><th>Subject</th><th>After</th></tr></thead>
<tbody>${records.map(
    (
      record,
    ) => html`<tr><td>${record.at}</td><td>${record.actor}</td><td>${record.action}</td><td>${record.subject}</td>
<td class="reply">${record.after === null ? '' : JSON.stringify(record.after)}</td></tr>`,
  )}</tbody></table>`;
}

function complaintsList(complaints: Complaint[]): SafeHtml {
  if (complaints.length === 0) return html`<p class="empty">No complaints.</p>`;
  return html`${complaints.map(
    (complaint) => html`<details class="complaint">
<summary>#${complaint.id} ${complaint.receivedAt} from ${complaint.reporter} about ${complaint.ip} (${complaint.status})</summary>
${complaint.authenticationResults ? html`<pre class="auth-results">${complaint.authenticationResults}</pre>` : ''}
<pre class="evidence">${complaint.message}</pre>
</details>`,
  )}`;
}

function entryActions(session: AdminSession, entry: Entry): SafeHtml {
  if (entry.status === 'listed') {
    return html`<form method="post" action="${ADMIN_PREFIX}/trustlist/delist" hx-post="${ADMIN_PREFIX}/trustlist/delist" hx-target="#flash" class="stacked">
${csrfField(session)}<input type="hidden" name="network" value="${entry.network}">
<label>Reason for delisting <input name="reason" required maxlength="500"></label>
<button type="submit" class="danger">Delist</button></form>`;
  }
  if (entry.status === 'delisted') {
    return html`<form method="post" action="${ADMIN_PREFIX}/trustlist/relist" hx-post="${ADMIN_PREFIX}/trustlist/relist" hx-target="#flash" class="stacked">
${csrfField(session)}<input type="hidden" name="network" value="${entry.network}">
<label>Reason (kept in the audit log; required to relist early) <input name="reason" maxlength="500"></label>
<label><input type="checkbox" name="force" value="yes"> Relist before the waiting period ends</label>
<button type="submit">Relist</button></form>`;
  }
  return html``;
}

function mustGet(store: TrustListStore, network: string): Entry {
  const entry = store.get(network);
  if (!entry) throw new OutpostError('NOT_FOUND', `${network} is not on the list`);
  return entry;
}

/** Trust list operator pages: entries, complaints with evidence, delist/relist, the audit log. */
export function trustlistRoutes(context: AdminContext, store: TrustListStore) {
  const policy = context.deps.trustlistPolicy ?? DEFAULT_POLICY;
  return async (app: FastifyInstance): Promise<void> => {
    app.get(`${ADMIN_PREFIX}/trustlist`, async (request, reply) => {
      const wanted = (request.query as { status?: unknown }).status;
      const status = ENTRY_STATUSES.find((known) => known === wanted);
      const entries = store.list({ limit: ENTRY_LIMIT, ...(status ? { status } : {}) });
      const filter = html`<form method="get" action="${ADMIN_PREFIX}/trustlist" class="filters">
<label>Status <select name="status"><option value="">any</option>${ENTRY_STATUSES.map(
        (known) => html`<option value="${known}"${known === status ? html` selected` : ''}>${known}</option>`,
      )}</select></label><button type="submit">Filter</button></form>`;
      const content = html`${filter}${entriesTable(entries)}
<section><h2>Audit log</h2>${auditTable(store.auditLog({ limit: AUDIT_LIMIT }))}</section>`;
      return sendPage(reply, page(frameOf(context, request, 'trustlist'), 'Trust list', content));
    });

    app.get(`${ADMIN_PREFIX}/trustlist/entry`, async (request, reply) => {
      const network = String((request.query as { network?: unknown }).network ?? '');
      const entry = mustGet(store, network);
      const content = html`${entriesTable([entry])}
${entryActions(context.sessionOf(request), entry)}
<section><h2>Complaints</h2>${complaintsList(store.complaintsFor(entry.network))}</section>
<section><h2>Audit log</h2>${auditTable(store.auditLog({ subject: entry.network, limit: AUDIT_LIMIT }))}</section>`;
      return sendPage(reply, page(frameOf(context, request, 'trustlist'), entry.network, content));
    });

    app.post(`${ADMIN_PREFIX}/trustlist/delist`, async (request, reply) => {
      const entry = mustGet(store, requiredField(request, 'network'));
      store.remove(entry.network, requiredField(request, 'reason'), context.actorOf(request));
      return finishAction(
        request,
        reply,
        `/trustlist/entry?network=${encodeURIComponent(entry.network)}`,
        'delist',
      );
    });

    app.post(`${ADMIN_PREFIX}/trustlist/relist`, async (request, reply) => {
      const network = requiredField(request, 'network');
      const force = formField(request, 'force') === 'yes';
      const reason = formField(request, 'reason');
      const entry = relistEntry(store, network, policy, context.actorOf(request), { force, reason });
      return finishAction(
        request,
        reply,
        `/trustlist/entry?network=${encodeURIComponent(entry.network)}`,
        'relist',
      );
    });
  };
}
