import { OutpostError } from '../core/errors.js';
import { type Address, coveringNetworks, networkKey, type Prefix, parseAddress } from './network.js';
import { type EntryRow, entryFromRow } from './schema.js';
import { StoreBase } from './store-base.js';
import type { Entry, EntryChanges, EntryStatus, NewEntry } from './types.js';
import { canonicalAddress, canonicalNetwork, checkChanges, checkNewEntry, checkReason } from './validate.js';

/** Filters for listing entries. */
export interface EntryFilter {
  status?: EntryStatus;
  limit?: number;
  offset?: number;
}

/** What an import changed. */
export interface ImportSummary {
  added: number;
  updated: number;
  unchanged: number;
  /** Networks in the file that are delisted here: left delisted (relisting is a decision). */
  keptDelisted: string[];
  /** With `replace`: listed networks not in the file, now delisted. */
  delisted: number;
}

/** What the DNS server needs of an entry; the block comes from the sort key, without parsing text. */
export interface ServedEntry {
  block: Prefix;
  status: EntryStatus;
  category: number;
  trust: number;
  text: string;
  reason: string;
  updatedAt: string;
}

type ServedRow = [Buffer, number, EntryStatus, number, number, string, string, string];

type CheckedEntry = ReturnType<typeof checkNewEntry>;

const DEFAULT_LIMIT = 1000;

function notFound(network: string): OutpostError {
  return new OutpostError('NOT_FOUND', `${network} is not on the list`);
}

/** The entries of a trust list: listing, delisting, relisting, exclusions, imports. */
export class EntryStore extends StoreBase {
  /** Lists (or excludes) a network; CONFLICT when it is already on the list in any state. */
  add(input: NewEntry, actor: string): Entry {
    const checked = checkNewEntry(input);
    return this.write(() => {
      if (this.find(checked.network.text)) {
        throw new OutpostError('CONFLICT', `${checked.network.text} is already on the list`);
      }
      return this.addChecked(checked, input.exclude === true, actor, input.exclude ? 'exclude' : 'add');
    });
  }

  /** Changes category, trust, text or contact of an entry that is not an exclusion. */
  update(network: string, changes: EntryChanges, actor: string): Entry {
    const key = canonicalNetwork(network);
    const checked = checkChanges(changes);
    return this.write(() => {
      const before = this.mustFind(key);
      if (before.status === 'excluded') throw new OutpostError('CONFLICT', `${key} is an exclusion`);
      const after = { ...before, ...checked, updatedAt: this.timestamp() };
      this.sql(
        'UPDATE entries SET category = ?, trust = ?, text = ?, contact = ?, updated_at = ? WHERE network = ?',
      ).run(after.category, after.trust, after.text, after.contact, after.updatedAt, key);
      this.audit(actor, 'update', key, before, after);
      return after;
    });
  }

  /** Delists a listed network with a reason, which its TXT then publishes. */
  remove(network: string, reason: string, actor: string): Entry {
    const key = canonicalNetwork(network);
    const why = checkReason(reason);
    return this.write(() => {
      const before = this.mustFind(key);
      if (before.status !== 'listed') throw new OutpostError('CONFLICT', `${key} is ${before.status}`);
      return this.setStatus(before, 'delisted', why, actor, 'delist');
    });
  }

  /** Lists a delisted network again; the reason, when given, goes into the audit log. */
  relist(network: string, actor: string, reason?: string): Entry {
    const key = canonicalNetwork(network);
    const why = reason === undefined ? undefined : checkReason(reason);
    return this.write(() => {
      const before = this.mustFind(key);
      if (before.status !== 'delisted') throw new OutpostError('CONFLICT', `${key} is ${before.status}`);
      return this.setStatus(before, 'listed', '', actor, 'relist', why);
    });
  }

  /** Lifts an exclusion (deletes it; the audit log keeps what it was). */
  removeExclusion(network: string, actor: string): Entry {
    const key = canonicalNetwork(network);
    return this.write(() => {
      const before = this.mustFind(key);
      if (before.status !== 'excluded') throw new OutpostError('CONFLICT', `${key} is not an exclusion`);
      this.sql('DELETE FROM entries WHERE network = ?').run(key);
      this.audit(actor, 'unexclude', key, before, null);
      return before;
    });
  }

  get(network: string): Entry | undefined {
    return this.find(canonicalNetwork(network));
  }

  /** Entries in address order. */
  list(filter: EntryFilter = {}): Entry[] {
    const limit = filter.limit ?? DEFAULT_LIMIT;
    const offset = filter.offset ?? 0;
    const rows = filter.status
      ? this.sql('SELECT * FROM entries WHERE status = ? ORDER BY sort_key LIMIT ? OFFSET ?').all(
          filter.status,
          limit,
          offset,
        )
      : this.sql('SELECT * FROM entries ORDER BY sort_key LIMIT ? OFFSET ?').all(limit, offset);
    return (rows as EntryRow[]).map(entryFromRow);
  }

  /** Every entry, for building the served index and for export. */
  all(): Entry[] {
    return (this.sql('SELECT * FROM entries ORDER BY sort_key').all() as EntryRow[]).map(entryFromRow);
  }

  /** Every entry in the form the DNS server builds its index from (fast: 100,000 rows in ~0.1 s). */
  servedEntries(): ServedEntry[] {
    const statement = this.sql(
      'SELECT sort_key, prefix, status, category, trust, text, reason, updated_at FROM entries',
    ).raw(true);
    return (statement.all() as ServedRow[]).map(
      ([key, prefix, status, category, trust, text, reason, updatedAt]) => {
        const family = key[0] === 6 ? 6 : 4;
        const bytes = new Uint8Array(key.subarray(1, family === 4 ? 5 : 17));
        return { block: { family, bytes, prefix }, status, category, trust, text, reason, updatedAt };
      },
    );
  }

  /** The entries whose network holds `ip`, most specific first. */
  covering(ip: string): Entry[] {
    const address = parseAddress(canonicalAddress(ip)) as Address;
    const networks = coveringNetworks(address);
    const placeholders = networks.map(() => '?').join(',');
    const rows = this.sql(
      `SELECT * FROM entries WHERE network IN (${placeholders}) ORDER BY prefix DESC`,
    ).all(...networks) as EntryRow[];
    return rows.map(entryFromRow);
  }

  /**
   * Adds many entries in one transaction (an rbldnsd import): new networks are added, changed
   * ones updated, delisted ones left delisted; with `replace`, listed networks missing from
   * `entries` are delisted with `replaceReason`.
   */
  importEntries(
    entries: NewEntry[],
    actor: string,
    options: { replace?: boolean; replaceReason?: string } = {},
  ): ImportSummary {
    const checked = entries.map((input) => ({ input, values: checkNewEntry(input) }));
    const replaceReason = options.replace ? checkReason(options.replaceReason) : '';
    return this.write(() => {
      const summary: ImportSummary = { added: 0, updated: 0, unchanged: 0, keptDelisted: [], delisted: 0 };
      const seen = new Set<string>();
      for (const { input, values } of checked) {
        const key = values.network.text;
        seen.add(key);
        const before = this.find(key);
        if (!before) {
          this.addChecked(values, input.exclude === true, actor, 'import');
          summary.added++;
        } else if (before.status === 'delisted') {
          summary.keptDelisted.push(key);
        } else if (this.sameValues(before, values, input.exclude === true)) {
          summary.unchanged++;
        } else {
          const after = this.overwrite(before, values, input.exclude === true);
          this.audit(actor, 'import-update', key, before, after);
          summary.updated++;
        }
      }
      if (options.replace) {
        for (const entry of this.list({ status: 'listed', limit: Number.MAX_SAFE_INTEGER })) {
          if (seen.has(entry.network)) continue;
          this.setStatus(entry, 'delisted', replaceReason, actor, 'delist');
          summary.delisted++;
        }
      }
      return summary;
    });
  }

  protected find(network: string): Entry | undefined {
    const row = this.sql('SELECT * FROM entries WHERE network = ?').get(network) as EntryRow | undefined;
    return row ? entryFromRow(row) : undefined;
  }

  protected mustFind(network: string): Entry {
    const entry = this.find(network);
    if (!entry) throw notFound(network);
    return entry;
  }

  private addChecked(values: CheckedEntry, exclude: boolean, actor: string, auditAction: string): Entry {
    const at = this.timestamp();
    this.sql(
      `INSERT INTO entries (network, sort_key, family, prefix, category, trust, text, contact,
         status, reason, listed_since, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      values.network.text,
      networkKey(values.network),
      values.network.family,
      values.network.prefix,
      values.category,
      values.trust,
      values.text,
      values.contact,
      exclude ? 'excluded' : 'listed',
      values.reason,
      at,
      at,
    );
    const entry = this.mustFind(values.network.text);
    this.audit(actor, auditAction, entry.network, null, entry);
    return entry;
  }

  /** Replaces the values of an existing entry (import); keeps its listing date. */
  private overwrite(before: Entry, values: CheckedEntry, exclude: boolean): Entry {
    const after: Entry = {
      ...before,
      category: values.category,
      trust: values.trust,
      text: values.text,
      contact: values.contact === '' ? before.contact : values.contact,
      status: exclude ? 'excluded' : 'listed',
      reason: values.reason,
      updatedAt: this.timestamp(),
    };
    this.sql(
      `UPDATE entries SET category = ?, trust = ?, text = ?, contact = ?, status = ?, reason = ?, updated_at = ?
       WHERE network = ?`,
    ).run(
      after.category,
      after.trust,
      after.text,
      after.contact,
      after.status,
      after.reason,
      after.updatedAt,
      before.network,
    );
    return after;
  }

  private sameValues(entry: Entry, values: CheckedEntry, exclude: boolean): boolean {
    return (
      (entry.status === 'excluded') === exclude &&
      entry.category === values.category &&
      entry.trust === values.trust &&
      entry.text === values.text &&
      (values.contact === '' || entry.contact === values.contact)
    );
  }

  private setStatus(
    before: Entry,
    status: EntryStatus,
    reason: string,
    actor: string,
    action: string,
    /** Why the operator did it, for the audit log only (the entry's reason is what TXT publishes). */
    note?: string,
  ): Entry {
    const after: Entry = { ...before, status, reason, updatedAt: this.timestamp() };
    this.sql('UPDATE entries SET status = ?, reason = ?, updated_at = ? WHERE network = ?').run(
      status,
      reason,
      after.updatedAt,
      before.network,
    );
    this.audit(actor, action, before.network, before, note === undefined ? after : { ...after, note });
    return after;
  }
}
