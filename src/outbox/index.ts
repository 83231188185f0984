export { type OutboxConfig, outboxConfigSchema } from './config.js';
export { type JournalEntry, type JournalState, OutboxJournal } from './journal.js';
export { type OutboxDeps, OutboxWatcher, type ScanSummary, startOutboxWatcher } from './watcher.js';
