import type { Database } from 'better-sqlite3';
import type { AuditRecord, Complaint, ComplaintStatus, Entry, EntryStatus, ProbeRecord } from './types.js';

/** The trust list's own database; bump SCHEMA_VERSION with a migration when the tables change. */
const SCHEMA_VERSION = 1;

const TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
  network TEXT PRIMARY KEY,
  sort_key BLOB NOT NULL,
  family INTEGER NOT NULL CHECK (family IN (4, 6)),
  prefix INTEGER NOT NULL,
  category INTEGER NOT NULL,
  trust INTEGER NOT NULL,
  text TEXT NOT NULL,
  contact TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('listed', 'delisted', 'excluded')),
  reason TEXT NOT NULL,
  listed_since TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CHECK ((status = 'excluded' AND category = 0 AND trust = 0)
      OR (status <> 'excluded' AND category BETWEEN 2 AND 15 AND trust BETWEEN 0 AND 3))
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_order ON entries (sort_key);
CREATE TABLE IF NOT EXISTS complaints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ip TEXT NOT NULL,
  network TEXT,
  message TEXT NOT NULL,
  authentication_results TEXT NOT NULL,
  reporter TEXT NOT NULL,
  received_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'dismissed', 'resolved'))
);
CREATE INDEX IF NOT EXISTS complaints_by_network ON complaints (network, received_at);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  before TEXT,
  after TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit (subject, id);
CREATE TABLE IF NOT EXISTS probes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  domain TEXT NOT NULL,
  started_at TEXT NOT NULL,
  passed INTEGER NOT NULL,
  checks TEXT NOT NULL,
  transcript TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS probes_by_ip ON probes (ip, id);
CREATE TABLE IF NOT EXISTS attestations (
  network TEXT NOT NULL,
  rule TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  note TEXT NOT NULL,
  PRIMARY KEY (network, rule)
) WITHOUT ROWID;
`;

/** Creates the tables (idempotent) and refuses a database written by a newer outpost. */
export function migrate(db: Database): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new Error(`trust list database has schema ${version}; this outpost knows up to ${SCHEMA_VERSION}`);
  }
  if (version === SCHEMA_VERSION) return;
  db.exec(TABLES);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

/** An entries row as better-sqlite3 returns it. */
export interface EntryRow {
  network: string;
  family: number;
  prefix: number;
  category: number;
  trust: number;
  text: string;
  contact: string;
  status: string;
  reason: string;
  listed_since: string;
  updated_at: string;
}

export function entryFromRow(row: EntryRow): Entry {
  return {
    network: row.network,
    family: row.family === 6 ? 6 : 4,
    prefix: row.prefix,
    category: row.category,
    trust: row.trust,
    text: row.text,
    contact: row.contact,
    status: row.status as EntryStatus,
    reason: row.reason,
    listedSince: row.listed_since,
    updatedAt: row.updated_at,
  };
}

export interface ComplaintRow {
  id: number;
  ip: string;
  network: string | null;
  message: string;
  authentication_results: string;
  reporter: string;
  received_at: string;
  status: string;
}

export function complaintFromRow(row: ComplaintRow): Complaint {
  return {
    id: row.id,
    ip: row.ip,
    network: row.network,
    message: row.message,
    authenticationResults: row.authentication_results,
    reporter: row.reporter,
    receivedAt: row.received_at,
    status: row.status as ComplaintStatus,
  };
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  before: string | null;
  after: string | null;
}

export function auditFromRow(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
  };
}

export interface ProbeRow {
  id: number;
  ip: string;
  port: number;
  domain: string;
  started_at: string;
  passed: number;
  checks: string;
  transcript: string;
}

export function probeFromRow(row: ProbeRow): ProbeRecord {
  return {
    id: row.id,
    ip: row.ip,
    port: row.port,
    domain: row.domain,
    startedAt: row.started_at,
    passed: row.passed === 1,
    checks: JSON.parse(row.checks),
    transcript: JSON.parse(row.transcript),
  };
}
