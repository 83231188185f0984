// What the post offices do, as it happens: their log lines (one JSON line per SMTP transaction and
// per delivery attempt) turned into one readable line each for the demo's output.
import { pino } from 'pino';
import type { Logger } from '../core/log.js';

/** Where the demo writes what it shows. */
export type Printer = (line: string) => void;

interface LogLine {
  msg?: string;
  queueId?: string;
  listener?: string;
  client?: string;
  from?: string;
  rcpts?: number;
  rcpt?: string;
  target?: string;
  status?: string;
  /** The last reply as the queue records it: "250 2.0.0 Ok ...". */
  reply?: string;
  kind?: string;
  to?: string;
  about?: string;
}

function replyText(reply: string | undefined): string {
  return reply?.split('\n')[0] ?? '';
}

/** One readable line for the log events the demo shows; undefined for the others. */
export function describeEvent(office: string, line: LogLine): string | undefined {
  switch (line.msg) {
    case 'queued':
      return `  [${office}] ${line.listener} accepted from ${line.client}: <${line.from}> for ${line.rcpts} recipient(s), queued as ${line.queueId}`;
    case 'delivery':
      return `  [${office}] delivery ${line.queueId} to <${line.rcpt}> via ${line.target}: ${line.status} (${replyText(line.reply)})`;
    case 'DSN queued':
      return `  [${office}] DSN (${line.kind}) about ${line.about} queued for <${line.to}> as ${line.queueId}`;
    default:
      return undefined;
  }
}

/**
 * A logger for one post office that prints its transactions and delivery attempts; warnings and
 * errors of anything else are printed as they are, so a failing step shows why.
 */
export function eventLogger(office: string, print: Printer): Logger {
  return pino(
    { level: 'info', base: null },
    {
      write(text: string) {
        for (const raw of text.split('\n')) {
          if (raw.trim() === '') continue;
          const line = JSON.parse(raw) as LogLine & { level?: number };
          const event = describeEvent(office, line);
          if (event !== undefined) print(event);
          else if ((line.level ?? 0) >= 40) print(`  [${office}] log: ${raw}`);
        }
      },
    },
  );
}
