// `outpost feed follow`: polls an Atom or JSON feed and writes each new item into a Maildir once.
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { OutpostError } from '../core/errors.js';
import { rfc5322Date } from '../core/time.js';
import { createMaildirTarget } from '../delivery/maildir/index.js';
import type { Im2000Store } from './store.js';

export interface FollowedItem {
  id: string;
  title: string;
  author: string;
  date: number;
  text: string;
}

export interface FollowOptions {
  url: string;
  /** The local mailbox (address) the items go into. */
  into: string;
  mailRoot: string;
  /** Remembers seen item ids (im2000.db). */
  store: Im2000Store;
  hostname: string;
  now?: () => number;
}

const FEED_TIMEOUT_MS = 15_000;
const MAX_FEED_BYTES = 10 * 1024 * 1024;

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object' && value !== null && '#text' in value) return text(value['#text']);
  return '';
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function field(object: unknown, key: string): unknown {
  return typeof object === 'object' && object !== null && key in object
    ? (object as Record<string, unknown>)[key]
    : undefined;
}

function parseDate(value: unknown, fallback: number): number {
  const time = Date.parse(text(value));
  return Number.isNaN(time) ? fallback : time;
}

/** Items of a JSON Feed (1.0 or 1.1) document. */
export function jsonFeedItems(document: unknown, now: number): FollowedItem[] {
  return asArray(field(document, 'items')).map((item) => ({
    id: text(field(item, 'id')),
    title: text(field(item, 'title')),
    author: text(field(asArray(field(item, 'authors'))[0] ?? field(item, 'author'), 'name')),
    date: parseDate(field(item, 'date_published'), now),
    text: text(field(item, 'content_text')) || text(field(item, 'content_html')),
  }));
}

/** Entries of an Atom document. */
export function atomItems(xml: string, now: number): FollowedItem[] {
  const document: unknown = new XMLParser({ ignoreAttributes: true }).parse(xml);
  return asArray(field(field(document, 'feed'), 'entry')).map((entry) => ({
    id: text(field(entry, 'id')),
    title: text(field(entry, 'title')),
    author: text(field(field(entry, 'author'), 'name')),
    date: parseDate(field(entry, 'updated') ?? field(entry, 'published'), now),
    text: text(field(entry, 'content')) || text(field(entry, 'summary')),
  }));
}

export async function fetchFeedItems(url: string, now: number): Promise<FollowedItem[]> {
  const response = await fetch(url, {
    headers: { accept: 'application/feed+json, application/atom+xml;q=0.9' },
    signal: AbortSignal.timeout(FEED_TIMEOUT_MS),
  });
  if (!response.ok) throw new OutpostError('BAD_REQUEST', `feed ${url}: HTTP ${response.status}`);
  const body = await response.text();
  if (body.length > MAX_FEED_BYTES) throw new OutpostError('MESSAGE_TOO_BIG', `feed ${url}`);
  const items = body.trimStart().startsWith('{')
    ? jsonFeedItems(JSON.parse(body), now)
    : atomItems(body, now);
  return items.filter((item) => item.id !== '');
}

function headerText(value: string): string {
  // One line, and RFC 2047 encoding only when needed.
  const line = value.replace(/[\r\n]+/g, ' ').trim();
  return /^[\x20-\x7e]*$/.test(line) ? line : `=?UTF-8?B?${Buffer.from(line).toString('base64')}?=`;
}

/** An item as a message (RFC 5322); the Message-ID derives from feed and item so copies are recognisable. */
export function itemMessage(feedUrl: string, into: string, item: FollowedItem): Buffer {
  const digest = createHash('sha256').update(`${feedUrl}\n${item.id}`).digest('hex').slice(0, 32);
  const host = new URL(feedUrl).hostname || 'feed.invalid';
  const body = Buffer.from(item.text, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      `From: ${headerText(item.author || host)} <feed@${host}>`,
      `To: <${into}>`,
      `Subject: ${headerText(item.title)}`,
      `Date: ${rfc5322Date(item.date)}`,
      `Message-ID: <${digest}@feed.outpost>`,
      `X-Feed-URL: ${headerText(feedUrl)}`,
      `X-Feed-Item: ${headerText(item.id)}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

/** One poll: fetches the feed and delivers the items not seen before; returns how many were new. */
export async function followFeedOnce(options: FollowOptions): Promise<number> {
  const now = options.now ?? Date.now;
  const items = await fetchFeedItems(options.url, now());
  const target = createMaildirTarget({ root: options.mailRoot, hostname: options.hostname, name: 'feed' });
  let delivered = 0;
  for (const item of items) {
    if (options.store.hasSeen(options.url, item.id)) continue;
    const at = now();
    const id = `F${createHash('sha256').update(`${options.url}\n${item.id}`).digest('hex').slice(0, 24)}`;
    const prepared = await target.prepare({
      messageId: id,
      sender: '',
      receivedAt: item.date,
      body: itemMessage(options.url, options.into, item),
      recipients: [
        {
          messageId: id,
          rcptIndex: 0,
          address: options.into,
          target: 'feed',
          folder: '',
          status: 'queued',
          attempts: 0,
          nextAttemptAt: at,
          updatedAt: at,
          sender: '',
          receivedAt: item.date,
          leaseUntil: at,
          recovered: true,
        },
      ],
    });
    const results = [...prepared.results, ...(await prepared.commit())];
    const failed = results.find((result) => result.status !== 'delivered');
    if (failed) throw new OutpostError('QUEUE_UNAVAILABLE', `${options.into}: ${failed.reply.text}`);
    options.store.markSeen(options.url, item.id, at);
    delivered++;
  }
  return delivered;
}
