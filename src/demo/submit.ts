// The demo's mail client: submits a message the way a mail program does (STARTTLS, AUTH PLAIN,
// one transaction), printing each command and the server's reply.
import type { Reply } from '../core/reply.js';
import { SmtpClientConnection } from '../delivery/smtp/client.js';
import type { Printer } from './events.js';

const TIMEOUT_MS = 15_000;

export interface Submission {
  host: string;
  ip: string;
  port: number;
  /** The CA the server's certificate chains to. */
  ca: string;
  username: string;
  password: string;
  from: string;
  to: string[];
  /** RCPT parameter NOTIFY (RFC 3461), e.g. "SUCCESS,FAILURE". */
  notify?: string;
  message: Buffer;
}

/** A reply as the server wrote it: code, enhanced code, first line. */
export function formatReply(reply: Reply): string {
  return [reply.code, reply.enhanced, reply.text.split('\n')[0]]
    .filter((part) => part !== undefined)
    .join(' ');
}

/** The final reply to DATA, or the first refusal that ended the transaction. */
export async function submit(submission: Submission, print: Printer): Promise<Reply> {
  const connection = await SmtpClientConnection.open({
    host: submission.ip,
    port: submission.port,
    timeoutMs: TIMEOUT_MS,
  });
  const step = async (line: string, shown = line): Promise<Reply> => {
    const reply = await connection.command(line, TIMEOUT_MS);
    print(`    C: ${shown}\n    S: ${formatReply(reply)}`);
    return reply;
  };
  try {
    const greeting = await connection.readReply(TIMEOUT_MS);
    print(`    S: ${formatReply(greeting)}`);
    if (greeting.code !== 220) return greeting;
    await step('EHLO demo-client.local');
    const starttls = await step('STARTTLS');
    if (starttls.code !== 220) return starttls;
    await connection.upgrade({ ca: submission.ca, servername: submission.host }, TIMEOUT_MS);
    print(`    (TLS up, certificate of ${submission.host} verified against the demo CA)`);
    await step('EHLO demo-client.local');
    const credentials = Buffer.from(`\0${submission.username}\0${submission.password}`).toString('base64');
    const auth = await step(`AUTH PLAIN ${credentials}`, 'AUTH PLAIN <credentials>');
    if (auth.code !== 235) return auth;
    const mail = await step(`MAIL FROM:<${submission.from}>`);
    if (mail.code !== 250) return mail;
    const notify = submission.notify === undefined ? '' : ` NOTIFY=${submission.notify}`;
    for (const rcpt of submission.to) {
      const reply = await step(`RCPT TO:<${rcpt}>${notify}`);
      if (reply.code !== 250) return reply;
    }
    const data = await step('DATA');
    if (data.code !== 354) return data;
    const final = await connection.sendBody(submission.message, TIMEOUT_MS);
    print(`    C: <message, ${submission.message.length} bytes>\n    S: ${formatReply(final)}`);
    return final;
  } finally {
    await connection.quit(TIMEOUT_MS);
  }
}

/** What a sending server sees when it connects to an MX from `localAddress`: the greeting. */
export async function greetingFrom(ip: string, port: number, localAddress: string): Promise<Reply> {
  const connection = await SmtpClientConnection.open({ host: ip, port, localAddress, timeoutMs: TIMEOUT_MS });
  try {
    return await connection.readReply(TIMEOUT_MS);
  } finally {
    await connection.quit(TIMEOUT_MS);
  }
}
