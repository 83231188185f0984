import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { OutpostError } from '../core/errors.js';
import {
  type AuditRow,
  auditFromRow,
  type ComplaintRow,
  complaintFromRow,
  migrate,
  type ProbeRow,
  probeFromRow,
} from './schema.js';
import { EntryStore } from './store-entries.js';
import type {
  Attestation,
  AuditRecord,
  Complaint,
  ComplaintStatus,
  NewComplaint,
  ProbeRecord,
} from './types.js';
import { canonicalAddress, canonicalNetwork } from './validate.js';

export type { EntryFilter, ImportSummary } from './store-entries.js';

/** How to open a trust list database. */
export interface StoreOptions {
  /** Open without writing (a serving worker); the file must exist. */
  readonly?: boolean;
  /** Clock for timestamps (tests). */
  now?: () => Date;
}

const DEFAULT_LIMIT = 1000;

/** The file name of the trust list database inside a data directory. */
export function trustListDbFile(dataDir: string): string {
  return path.join(dataDir, 'trustlist.db');
}

/**
 * A trust list's data in its own SQLite database (WAL, synchronous=FULL): entries, complaints with
 * their evidence, admission probes, attestations and the audit log. Writes are rare operator
 * actions, so they are synchronous; every change is audited in the same transaction. Listeners
 * registered with onChange hear about each committed write (the DNS server reloads on it).
 */
export class TrustListStore extends EntryStore {
  /** Opens (creating when writable) the database at `file`. */
  static open(file: string, options: StoreOptions = {}): TrustListStore {
    if (!options.readonly) mkdirSync(path.dirname(file), { recursive: true });
    const readonly = options.readonly ?? false;
    const db = new Database(file, { readonly, fileMustExist: readonly });
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      migrate(db);
    }
    return new TrustListStore(db, options.now ?? (() => new Date()));
  }

  /** Records a complaint against `network` (null: the address is not listed). */
  addComplaint(input: NewComplaint, network: string | null, actor: string): Complaint {
    const ip = canonicalAddress(input.ip);
    const reporter = input.reporter.trim();
    if (reporter === '') throw new OutpostError('BAD_REQUEST', 'reporter is required');
    if (input.message.trim() === '') throw new OutpostError('BAD_REQUEST', 'the evidence message is empty');
    return this.write(() => {
      const result = this.sql(
        `INSERT INTO complaints (ip, network, message, authentication_results, reporter, received_at, status)
           VALUES (?, ?, ?, ?, ?, ?, 'open')`,
      ).run(ip, network, input.message, input.authenticationResults ?? '', reporter, this.timestamp());
      const complaint = this.complaint(Number(result.lastInsertRowid)) as Complaint;
      const { message: _message, ...summary } = complaint;
      this.audit(actor, 'complaint', `complaint:${complaint.id}`, null, summary);
      return complaint;
    });
  }

  complaint(id: number): Complaint | undefined {
    const row = this.sql('SELECT * FROM complaints WHERE id = ?').get(id) as ComplaintRow | undefined;
    return row ? complaintFromRow(row) : undefined;
  }

  /** Complaints counted against a network, newest first; optionally only since a time or of a status. */
  complaintsFor(network: string, filter: { since?: string; status?: ComplaintStatus } = {}): Complaint[] {
    const rows = this.sql(
      `SELECT * FROM complaints WHERE network = ? AND received_at >= ? AND (? IS NULL OR status = ?)
         ORDER BY id DESC`,
    ).all(canonicalNetwork(network), filter.since ?? '', filter.status ?? null, filter.status ?? null);
    return (rows as ComplaintRow[]).map(complaintFromRow);
  }

  /** Marks the open complaints against a network resolved (a relisting settles them); returns how many. */
  resolveComplaints(network: string, actor: string): number {
    const key = canonicalNetwork(network);
    return this.write(() => {
      const result = this.sql(
        "UPDATE complaints SET status = 'resolved' WHERE network = ? AND status = 'open'",
      ).run(key);
      if (result.changes > 0) this.audit(actor, 'complaints-resolved', key, null, { count: result.changes });
      return result.changes;
    });
  }

  /** Marks a complaint dismissed, resolved or open again. */
  setComplaintStatus(id: number, status: ComplaintStatus, actor: string): Complaint {
    return this.write(() => {
      const before = this.complaint(id);
      if (!before) throw new OutpostError('NOT_FOUND', `no complaint ${id}`);
      this.sql('UPDATE complaints SET status = ? WHERE id = ?').run(status, id);
      this.audit(actor, 'complaint-status', `complaint:${id}`, { status: before.status }, { status });
      return { ...before, status };
    });
  }

  /** Keeps an admission probe's evidence. */
  recordProbe(probe: Omit<ProbeRecord, 'id'>, actor: string): ProbeRecord {
    return this.write(() => {
      const result = this.sql(
        `INSERT INTO probes (ip, port, domain, started_at, passed, checks, transcript)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        canonicalAddress(probe.ip),
        probe.port,
        probe.domain,
        probe.startedAt,
        probe.passed ? 1 : 0,
        JSON.stringify(probe.checks),
        JSON.stringify(probe.transcript),
      );
      const id = Number(result.lastInsertRowid);
      this.audit(actor, 'probe', `probe:${id}`, null, { ip: probe.ip, passed: probe.passed });
      return { ...probe, id };
    });
  }

  /** All probes, newest first (bounded). */
  probes(limit = 100): ProbeRecord[] {
    const rows = this.sql('SELECT * FROM probes ORDER BY id DESC LIMIT ?').all(limit) as ProbeRow[];
    return rows.map(probeFromRow);
  }

  /** Records that the operator vouches for an admission rule for a network (replaces an older one). */
  attest(network: string, rule: string, note: string, actor: string): Attestation {
    const key = canonicalNetwork(network);
    return this.write(() => {
      const attestation: Attestation = { network: key, rule, actor, at: this.timestamp(), note: note.trim() };
      this.sql(
        'INSERT OR REPLACE INTO attestations (network, rule, actor, at, note) VALUES (?, ?, ?, ?, ?)',
      ).run(key, rule, actor, attestation.at, attestation.note);
      this.audit(actor, 'attest', key, null, attestation);
      return attestation;
    });
  }

  attestations(network: string): Attestation[] {
    return this.sql(
      'SELECT network, rule, actor, at, note FROM attestations WHERE network = ? ORDER BY rule',
    ).all(canonicalNetwork(network)) as Attestation[];
  }

  /** The audit log, newest first; optionally about one subject (a network, "complaint:7"). */
  auditLog(filter: { subject?: string; limit?: number } = {}): AuditRecord[] {
    const rows = this.sql(
      'SELECT * FROM audit WHERE (? IS NULL OR subject = ?) ORDER BY id DESC LIMIT ?',
    ).all(filter.subject ?? null, filter.subject ?? null, filter.limit ?? DEFAULT_LIMIT) as AuditRow[];
    return rows.map(auditFromRow);
  }
}
