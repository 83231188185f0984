// Public archives: a mailbox's INBOX as an Atom (RFC 4287) and a JSON Feed 1.1 document, so readers
// poll it instead of subscribing to a list.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { simpleParser } from 'mailparser';
import { isNotFound, OutpostError } from '../core/errors.js';
import { folderPath } from '../delivery/maildir/index.js';

/** Items per feed document: the newest messages. */
const FEED_ITEMS = 50;

export interface FeedItem {
  id: string;
  title: string;
  author: string;
  date: number;
  text: string;
}

export interface FeedOptions {
  mailRoot: string;
  /** Addresses whose INBOX is public. */
  publicFeeds: string[];
  /** Base URL of this server, for the feeds' self links. */
  baseUrl: string;
}

function itemId(messageId: string | undefined, file: string): string {
  return `urn:outpost:${createHash('sha256')
    .update(messageId ?? path.basename(file).split(':')[0] ?? file)
    .digest('hex')}`;
}

/** The newest messages of a mailbox's INBOX as feed items, newest first. */
export async function mailboxItems(mailRoot: string, address: string): Promise<FeedItem[]> {
  const folder = folderPath(mailRoot, address);
  if (folder === undefined) throw new OutpostError('NOT_FOUND', address);
  const files: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = path.join(folder.dir, sub);
    // A folder without cur/ yet is empty; any other failure (permissions, I/O) is the caller's to see.
    const names = await readdir(dir).catch((error: unknown) => {
      if (isNotFound(error)) return [] as string[];
      throw error;
    });
    for (const name of names) files.push(path.join(dir, name));
  }
  const items = await Promise.all(
    files.map(async (file) => {
      const parsed = await simpleParser(await readFile(file));
      return {
        id: itemId(parsed.messageId, file),
        title: parsed.subject ?? '',
        author: parsed.from?.text ?? '',
        date: parsed.date?.getTime() ?? 0,
        text: parsed.text ?? '',
      };
    }),
  );
  return items.sort((a, b) => b.date - a.date || a.id.localeCompare(b.id)).slice(0, FEED_ITEMS);
}

function xml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function atomFeed(address: string, selfUrl: string, items: FeedItem[]): string {
  const updated = items[0]?.date ?? 0;
  const entries = items.map(
    (item) => `  <entry>
    <id>${xml(item.id)}</id>
    <title>${xml(item.title)}</title>
    <author><name>${xml(item.author || address)}</name></author>
    <updated>${iso(item.date)}</updated>
    <content type="text">${xml(item.text)}</content>
  </entry>`,
  );
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${xml(selfUrl)}</id>
  <title>${xml(address)}</title>
  <link rel="self" href="${xml(selfUrl)}"/>
  <updated>${iso(updated)}</updated>
${entries.join('\n')}
</feed>
`;
}

export function jsonFeed(address: string, selfUrl: string, items: FeedItem[]): Record<string, unknown> {
  return {
    version: 'https://jsonfeed.org/version/1.1',
    title: address,
    feed_url: selfUrl,
    items: items.map((item) => ({
      id: item.id,
      title: item.title,
      content_text: item.text,
      date_published: iso(item.date),
      authors: [{ name: item.author || address }],
    })),
  };
}

/** GET /feeds/<address>.atom and /feeds/<address>.json for the configured public mailboxes. */
export function feedRoutes(options: FeedOptions): FastifyPluginAsync {
  const published = new Set(options.publicFeeds.map((address) => address.toLowerCase()));
  return async (app: FastifyInstance) => {
    app.get('/feeds/:name', async (request, reply) => {
      const name = (request.params as { name?: string }).name ?? '';
      const match = /^(.+)\.(atom|json)$/.exec(name);
      const address = match?.[1]?.toLowerCase();
      if (match === null || address === undefined || !published.has(address)) {
        throw new OutpostError('NOT_FOUND', `no public feed ${name}`);
      }
      const selfUrl = `${options.baseUrl.replace(/\/+$/, '')}/feeds/${encodeURIComponent(name)}`;
      const items = await mailboxItems(options.mailRoot, address);
      if (match[2] === 'atom') {
        return reply
          .header('content-type', 'application/atom+xml; charset=utf-8')
          .send(atomFeed(address, selfUrl, items));
      }
      return reply
        .header('content-type', 'application/feed+json; charset=utf-8')
        .send(jsonFeed(address, selfUrl, items));
    });
  };
}
