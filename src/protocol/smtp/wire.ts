import { formatReply, type Reply } from '../../core/reply.js';
import { Replies, withEnhancedCode } from './replies.js';
import type { WireReply } from './reply-writer.js';
import type { SmtpServerOptions } from './types.js';

// The protocol's constant replies, formatted once: MAIL, RCPT and DATA answer with these.
const PREPARED: ReadonlyMap<Reply, Buffer> = new Map(
  Object.values(Replies).map((reply) => [reply, Buffer.from(formatReply(withEnhancedCode(reply)))]),
);

/** A reply with a generic enhanced code where it has none (withEnhancedCode), ready for the wire. */
export function wireReply(reply: Reply): WireReply {
  return PREPARED.get(reply) ?? formatReply(withEnhancedCode(reply));
}

/**
 * The replies every session of one listener sends with the same text (greeting, HELO, QUIT, the
 * EHLO block), formatted once per listener instead of once per connection.
 */
export class ListenerReplies {
  readonly greeting: Buffer;
  readonly helo: Buffer;
  readonly quit: Buffer;
  /** The EHLO reply by whether the session is on TLS, the only session state it depends on. */
  private readonly ehloBySecure = new Map<boolean, Buffer>();

  private readonly hostname: string;

  constructor(options: SmtpServerOptions) {
    const { hostname } = options;
    this.hostname = hostname;
    this.greeting = wire({ code: 220, text: `${hostname} ESMTP ${options.banner ?? 'outpost'}` });
    // RFC 2034 3: no enhanced status codes on the positive EHLO/HELO reply.
    this.helo = wire({ code: 250, text: hostname });
    this.quit = wire({ code: 221, enhanced: '2.0.0', text: `${hostname} closing connection` });
  }

  /** The EHLO reply for a session on TLS or not; keywords() lists the extensions the first time. */
  ehlo(secure: boolean, keywords: () => string[]): Buffer {
    let prepared = this.ehloBySecure.get(secure);
    if (prepared === undefined) {
      prepared = wire({ code: 250, text: [this.hostname, ...keywords()].join('\n') });
      this.ehloBySecure.set(secure, prepared);
    }
    return prepared;
  }
}

function wire(reply: Reply): Buffer {
  return Buffer.from(formatReply(reply));
}
