// Entry point of the queue writer thread. Plain JavaScript on purpose: a worker thread does not
// inherit tsx hooks registered through its API (bin/outpost.js), so this registers them itself
// and then loads the TypeScript writer. Harmless when tsx is already active (node --import tsx).
import { register } from 'tsx/esm/api';

register();
await import('./writer.ts');
