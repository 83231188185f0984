import { errorReply, type Reply, reply } from '../core/reply.js';
import type { SessionInfo } from '../protocol/smtp/types.js';
import { decodeCookie, encodeCookie, MAX_EPOCH, normalizeZone } from './chain.js';
import { parseEpoch } from './txt.js';

/* The SMTP side of generation cookies: `XGEN <zone> <epoch> <base64 cookie>`, sent before MAIL. */

/** A peer's generation offer as kept in `session.state.xgen` until the MAIL stage checks it. */
export interface XgenOffer {
  zone: string;
  epoch: number;
  cookie: Buffer;
}

/** The key under which the verb handler stores the offer in `SessionInfo.state`. */
export const XGEN_STATE_KEY = 'xgen';

const USAGE = 'Syntax: XGEN <zone> <epoch> <base64 cookie>';

/** Keeps echoed client input short in replies. */
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text);
}

function syntaxError(text: string): { ok: false; reply: Reply } {
  return { ok: false, reply: errorReply('PARAM_SYNTAX', text) };
}

/** Parses the arguments of XGEN; a malformed command yields its `501 5.5.4` reply. */
export function parseXgen(args: string): { ok: true; offer: XgenOffer } | { ok: false; reply: Reply } {
  const parts = args.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 3) return syntaxError(USAGE);
  const [zoneText, epochText, cookieText] = parts as [string, string, string];
  let zone: string;
  try {
    zone = normalizeZone(zoneText);
  } catch {
    return syntaxError(`XGEN zone ${quote(zoneText)} is not a domain name`);
  }
  const epoch = parseEpoch(epochText);
  if (epoch === undefined) {
    return syntaxError(`XGEN epoch ${quote(epochText)} is not a decimal number from 0 to ${MAX_EPOCH}`);
  }
  const cookie = decodeCookie(cookieText);
  if (cookie === undefined) return syntaxError('XGEN cookie is not the base64 of 32 bytes');
  return { ok: true, offer: { zone, epoch, cookie } };
}

/** The XGEN command line (without CRLF) a client sends for its own generation state. */
export function formatXgen(state: { zone: string; epoch: number; cookie: Uint8Array }): string {
  return `XGEN ${normalizeZone(state.zone)} ${state.epoch} ${encodeCookie(state.cookie)}`;
}

/**
 * The XGEN verb for `SmtpHandlers.verbs`: a well-formed offer is stored for the MAIL-stage check
 * and answered 250; whether it passes is decided there, so the reply says nothing about it.
 */
export async function xgenVerb(session: SessionInfo, args: string): Promise<Reply> {
  const parsed = parseXgen(args);
  if (!parsed.ok) return parsed.reply;
  session.state[XGEN_STATE_KEY] = parsed.offer;
  return reply(250, '2.0.0', `Generation ${parsed.offer.epoch} of ${parsed.offer.zone} noted`);
}

/** The offer stored in a session's state, or undefined when none (or something malformed) is there. */
export function readXgenOffer(state: Record<string, unknown>): XgenOffer | undefined {
  const value = state[XGEN_STATE_KEY];
  if (typeof value !== 'object' || value === null) return undefined;
  const { zone, epoch, cookie } = value as Partial<Record<keyof XgenOffer, unknown>>;
  if (typeof zone !== 'string' || typeof epoch !== 'number' || !Buffer.isBuffer(cookie)) return undefined;
  return { zone, epoch, cookie };
}
