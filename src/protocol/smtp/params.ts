import { errorReply } from '../../core/reply.js';
import type { Parsed } from './parser.js';
import type { MailParams, NotifyOn, RcptParams, SmtpServerOptions } from './types.js';

/**
 * The options that decide which parameters are known: DSN ones (RET, ENVID, NOTIFY, ORCPT) when
 * DSN is offered, AUTH= when AUTH is configured; SIZE= is checked against maxMessageSize.
 */
export type ParamContext = Pick<SmtpServerOptions, 'maxMessageSize' | 'dsn' | 'auth'>;

// RFC 3461 4.4 and 4.2: ENVID up to 100 characters, ORCPT up to 500.
const MAX_ENVID = 100;
const MAX_ORCPT = 500;
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const SIZE_VALUE = /^[0-9]{1,15}$/;
const ORCPT_VALUE = /^([A-Za-z0-9][A-Za-z0-9-]*);(.+)$/;
const NOTIFY_EVENTS: ReadonlySet<string> = new Set<NotifyOn>(['SUCCESS', 'FAILURE', 'DELAY']);

interface Param {
  key: string;
  value: string | undefined;
}

/** Parses the ESMTP parameters of MAIL FROM (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH). */
export function parseMailParams(tokens: readonly string[], context: ParamContext): Parsed<MailParams> {
  const split = splitParams(tokens);
  if (!split.ok) return split;
  const params: MailParams = { smtputf8: false };
  for (const { key, value } of split.value) {
    const known = key === 'SIZE' || key === 'BODY' || key === 'SMTPUTF8';
    const dsnKey = key === 'RET' || key === 'ENVID';
    if (!known && !(dsnKey && context.dsn) && !(key === 'AUTH' && context.auth !== undefined))
      return unknown(key);
    if (key === 'SMTPUTF8') {
      if (value !== undefined) return badValue(key);
      params.smtputf8 = true;
      continue;
    }
    if (value === undefined || value === '') return badValue(key);
    if (key === 'SIZE') {
      if (!SIZE_VALUE.test(value)) return badValue(key);
      params.size = Number(value);
      if (params.size > context.maxMessageSize) return { ok: false, reply: errorReply('MESSAGE_TOO_BIG') };
    } else if (key === 'BODY') {
      const body = value.toUpperCase();
      if (body === 'BINARYMIME') {
        return {
          ok: false,
          reply: errorReply('PARAM_NOT_IMPLEMENTED', 'BODY=BINARYMIME needs CHUNKING, not offered'),
        };
      }
      if (body !== '7BIT' && body !== '8BITMIME') return badValue(key);
      params.body = body;
    } else if (key === 'RET') {
      const ret = value.toUpperCase();
      if (ret !== 'FULL' && ret !== 'HDRS') return badValue(key);
      params.ret = ret;
    } else if (key === 'ENVID') {
      const envid = decodeXtext(value);
      if (envid === undefined || envid.length > MAX_ENVID) return badValue(key);
      params.envid = envid;
    } else {
      // RFC 4954 5: AUTH=<> says the submitter is unknown; anything else is an xtext mailbox.
      const auth = value === '<>' ? '<>' : decodeXtext(value);
      if (auth === undefined) return badValue(key);
      params.auth = auth;
    }
  }
  return { ok: true, value: params };
}

/** Parses the ESMTP parameters of RCPT TO (NOTIFY, ORCPT; RFC 3461). */
export function parseRcptParams(tokens: readonly string[], context: ParamContext): Parsed<RcptParams> {
  const split = splitParams(tokens);
  if (!split.ok) return split;
  const params: RcptParams = {};
  for (const { key, value } of split.value) {
    if (!context.dsn || (key !== 'NOTIFY' && key !== 'ORCPT')) return unknown(key);
    if (value === undefined || value === '') return badValue(key);
    if (key === 'NOTIFY') {
      const notify = parseNotify(value);
      if (notify === undefined) return badValue(key);
      params.notify = notify;
    } else {
      const match = ORCPT_VALUE.exec(value);
      const type = match?.[1];
      const original = match?.[2] === undefined ? undefined : decodeXtext(match[2]);
      if (type === undefined || original === undefined || value.length > MAX_ORCPT) return badValue(key);
      params.orcpt = `${type};${original}`;
    }
  }
  return { ok: true, value: params };
}

/** NOTIFY=NEVER (empty list) or a comma list of SUCCESS, FAILURE, DELAY without repeats. */
function parseNotify(value: string): NotifyOn[] | undefined {
  const events = value.toUpperCase().split(',');
  if (events.length === 1 && events[0] === 'NEVER') return [];
  const unique = new Set(events);
  if (unique.size !== events.length) return undefined;
  for (const event of events) if (!NOTIFY_EVENTS.has(event)) return undefined;
  return events as NotifyOn[];
}

/** Splits `KEY=value` tokens; keys upper-cased, each key at most once. */
function splitParams(tokens: readonly string[]): Parsed<Param[]> {
  const params: Param[] = [];
  const seen = new Set<string>();
  for (const token of tokens) {
    const eq = token.indexOf('=');
    const key = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
    if (!KEYWORD.test(key)) return { ok: false, reply: errorReply('PARAM_SYNTAX', `Bad parameter ${token}`) };
    if (seen.has(key)) return { ok: false, reply: errorReply('PARAM_SYNTAX', `Duplicate parameter ${key}`) };
    seen.add(key);
    params.push({ key, value: eq < 0 ? undefined : token.slice(eq + 1) });
  }
  return { ok: true, value: params };
}

/**
 * Decodes RFC 3461 xtext ("+2B" is '+'); undefined when malformed. Bytes above 126 pass through so
 * that the UTF-8 forms of RFC 6533 survive.
 */
export function decodeXtext(text: string): string | undefined {
  let decoded = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      decoded += String.fromCharCode(Number.parseInt(hex, 16));
      i += 2;
    } else if (code < 33 || code === 0x3d || code === 0x7f) {
      return undefined;
    } else {
      decoded += text[i];
    }
  }
  return decoded;
}

function unknown(key: string): Parsed<never> {
  return { ok: false, reply: errorReply('PARAM_NOT_IMPLEMENTED', `Parameter ${key} not recognized`) };
}

function badValue(key: string): Parsed<never> {
  return { ok: false, reply: errorReply('PARAM_SYNTAX', `Bad value for parameter ${key}`) };
}
