import { type Logger, pino } from 'pino';

export type { Logger };

/** One JSON line per event on stderr (stdout stays free for what commands print). */
export function createLogger(level: string, name = 'outpost'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
