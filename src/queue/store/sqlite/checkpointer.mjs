// The queue's checkpoint thread: folds the WAL back into the database file on its own connection,
// so the writer thread never stalls its commits for it (SQLite lets a PASSIVE checkpoint run beside
// a writer). Plain JavaScript: it needs nothing but better-sqlite3, so no TypeScript loader either.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path, { fileMustExist: true, timeout: 5000 });
db.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (request) => {
  if (request === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({
      ok: true,
      busy: result.busy,
      log: result.log,
      checkpointed: result.checkpointed,
    });
  } catch (error) {
    parentPort.postMessage({ ok: false, detail: String(error) });
  }
});
parentPort.postMessage({ ready: true });
