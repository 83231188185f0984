// `outpost mailq`: the queue as Postfix's mailq shows it, for people and scripts used to it. Only
// messages with recipients still to deliver (queued, deferred, held, quarantined) are listed.
import type { MessageRow, RecipientRow, RecipientStatus, Store } from '../queue/store/types.js';

const WAITING: RecipientStatus[] = ['queued', 'deferred', 'held', 'quarantined'];
/** Waiting for an operator: such messages get Postfix's hold-queue mark. */
const ON_HOLD: ReadonlySet<RecipientStatus> = new Set(['held', 'quarantined']);
// Postfix's widths, with the queue id column widened for our 16-character ids (plus the mark).
const ID_WIDTH = 17;
const SIZE_WIDTH = 8;
const ARRIVAL_WIDTH = 20;
const RECIPIENT_COLUMN = ID_WIDTH + 1 + SIZE_WIDTH + 1 + ARRIVAL_WIDTH + 1;
// A reason is indented past the recipient column when it fits in a terminal line, as Postfix does.
const REASON_INDENT = RECIPIENT_COLUMN + 8;
const LINE_WIDTH = 79;
const LIST_LIMIT = 100_000;

export interface MailqEntry {
  message: Pick<MessageRow, 'id' | 'sender' | 'size' | 'receivedAt'>;
  /** The recipients not yet delivered, in recipient order. */
  recipients: Pick<RecipientRow, 'address' | 'status' | 'lastReply'>[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Tue Mar  4 10:00:00" in local time, as asctime without the year. */
export function arrivalTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Messages with recipients still waiting, oldest first. */
export async function mailqEntries(store: Store): Promise<MailqEntry[]> {
  const rows = (await Promise.all(WAITING.map((status) => store.list({ status, limit: LIST_LIMIT })))).flat();
  const byMessage = new Map<string, RecipientRow[]>();
  for (const row of rows) byMessage.set(row.messageId, [...(byMessage.get(row.messageId) ?? []), row]);
  const entries: MailqEntry[] = [];
  for (const [id, recipients] of byMessage) {
    const message = await store.message(id);
    // Removed between the two reads: nothing left to show.
    if (message === undefined) continue;
    recipients.sort((a, b) => a.rcptIndex - b.rcptIndex);
    entries.push({ message, recipients });
  }
  return entries.sort(
    (a, b) => a.message.receivedAt - b.message.receivedAt || a.message.id.localeCompare(b.message.id),
  );
}

function reasonLine(lastReply: string): string {
  const reason = `(${lastReply})`;
  return REASON_INDENT + reason.length <= LINE_WIDTH ? `${' '.repeat(REASON_INDENT)}${reason}` : reason;
}

/** The listing: a header, one block per message, the "-- N Kbytes in M Requests." footer. */
export function formatMailq(entries: MailqEntry[]): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  const lines = [
    `${'-Queue ID-'.padEnd(ID_WIDTH)} ${'--Size--'} ${'----Arrival Time----'} -Sender/Recipient-------`,
  ];
  let bytes = 0;
  for (const { message, recipients } of entries) {
    bytes += message.size;
    // '!' marks a message waiting for an operator, as Postfix marks its hold queue.
    const mark = recipients.every((r) => ON_HOLD.has(r.status)) ? '!' : ' ';
    lines.push(
      `${`${message.id}${mark}`.padEnd(ID_WIDTH)} ${String(message.size).padStart(SIZE_WIDTH)} ${arrivalTime(message.receivedAt).padEnd(ARRIVAL_WIDTH)} ${message.sender === '' ? 'MAILER-DAEMON' : message.sender}`,
    );
    for (const rcpt of recipients) {
      if (rcpt.lastReply !== undefined && rcpt.lastReply !== '') lines.push(reasonLine(rcpt.lastReply));
      lines.push(`${' '.repeat(RECIPIENT_COLUMN)}${rcpt.address}`);
    }
    lines.push('');
  }
  const requests = entries.length === 1 ? 'Request' : 'Requests';
  lines.push(`-- ${Math.ceil(bytes / 1024)} Kbytes in ${entries.length} ${requests}.`);
  return `${lines.join('\n')}\n`;
}
