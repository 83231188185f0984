// Reading what landed in the demo's Maildirs: waiting (bounded) for a message, and the header
// fields worth showing.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface Delivered {
  file: string;
  text: string;
}

const POLL_MS = 100;

/** Thrown when a step's expectation is not met in time; the message says what was missing. */
export class StepFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** The messages in a Maildir `new/` folder that `matches` accepts, oldest first. */
export async function messagesIn(dir: string, matches: (text: string) => boolean): Promise<Delivered[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const found: Delivered[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const text = await readFile(file, 'utf8').catch(() => '');
    if (matches(text)) found.push({ file, text });
  }
  return found;
}

/** Waits until a message that `matches` is in `dir`, at the latest until `deadline` (epoch ms). */
export async function waitForMessage(
  dir: string,
  matches: (text: string) => boolean,
  deadline: number,
  what: string,
): Promise<Delivered> {
  for (;;) {
    const [first] = await messagesIn(dir, matches);
    if (first) return first;
    if (Date.now() > deadline) throw new StepFailure(`${what}: nothing arrived in ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The unfolded values of a header field in a message's header section, in order. */
export function headerValues(message: string, name: string): string[] {
  const end = message.search(/\r?\n\r?\n/);
  const header = end < 0 ? message : message.slice(0, end);
  const unfolded = header.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  const prefix = `${name.toLowerCase()}:`;
  return unfolded
    .filter((line) => line.toLowerCase().startsWith(prefix))
    .map((line) => line.slice(prefix.length).trim());
}

/** The d= of every DKIM-Signature of a message. */
export function signingDomains(message: string): string[] {
  return headerValues(message, 'DKIM-Signature').flatMap((value) => {
    const domain = /(?:^|;)\s*d=([^;\s]+)/.exec(value)?.[1];
    return domain === undefined ? [] : [domain.toLowerCase()];
  });
}

/** The value of a `Field: value` line anywhere in the text (DSN report fields). */
export function fieldLine(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(text)?.[1]?.trim();
}
