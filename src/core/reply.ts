import { type ErrorCode, Errors } from './errors.js';

/** One SMTP reply: basic code, enhanced status code (RFC 3463) and text. */
export interface Reply {
  code: number;
  enhanced?: string;
  text: string;
}

export function reply(code: number, enhanced: string | undefined, text: string): Reply {
  return enhanced === undefined ? { code, text } : { code, enhanced, text };
}

/** The catalogue's reply for an error code, optionally with a more precise text. */
export function errorReply(code: ErrorCode, text?: string): Reply {
  const [basic, enhanced, defaultText] = Errors[code].smtp;
  return { code: basic, enhanced, text: text ?? defaultText };
}

export function isPositive(r: Reply): boolean {
  return r.code < 400;
}

export function isTransient(r: Reply): boolean {
  return r.code >= 400 && r.code < 500;
}

/** Renders a reply as wire lines (multi-line replies use "code-" continuation). */
export function formatReply(r: Reply): string {
  const lines = r.text.split(/\r?\n/);
  const prefix = r.enhanced ? `${r.enhanced} ` : '';
  return lines
    .map((line, i) => `${r.code}${i === lines.length - 1 ? ' ' : '-'}${prefix}${line}`)
    .join('\r\n')
    .concat('\r\n');
}
