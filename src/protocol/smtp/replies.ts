import type { Reply } from '../../core/reply.js';

/**
 * Replies that belong to the SMTP protocol itself (positive answers, AUTH and STARTTLS steps), as
 * opposed to the error catalogue in core/errors.ts, which holds the errors other layers share.
 */
export const Replies = {
  OK: { code: 250, enhanced: '2.0.0', text: 'OK' },
  SENDER_OK: { code: 250, enhanced: '2.1.0', text: 'Sender OK' },
  RECIPIENT_OK: { code: 250, enhanced: '2.1.5', text: 'Recipient OK' },
  START_DATA: { code: 354, text: 'End data with <CR><LF>.<CR><LF>' },
  CANNOT_VRFY: {
    code: 252,
    enhanced: '2.5.0',
    text: 'Cannot VRFY user, but will accept message and attempt delivery',
  },
  NOT_IMPLEMENTED: { code: 502, enhanced: '5.5.1', text: 'Command not implemented' },
  READY_FOR_TLS: { code: 220, enhanced: '2.0.0', text: 'Ready to start TLS' },
  AUTH_OK: { code: 235, enhanced: '2.7.0', text: 'Authentication successful' },
  AUTH_CANCELLED: { code: 501, enhanced: '5.0.0', text: 'Authentication cancelled' },
  AUTH_BAD_BASE64: { code: 501, enhanced: '5.5.2', text: 'Cannot decode response' },
  AUTH_MECHANISM_UNKNOWN: { code: 504, enhanced: '5.5.4', text: 'Unrecognized authentication type' },
  AUTH_NEEDS_TLS: {
    code: 538,
    enhanced: '5.7.11',
    text: 'Encryption required for requested authentication mechanism',
  },
  AUTH_TEMPORARY: { code: 454, enhanced: '4.7.0', text: 'Temporary authentication failure' },
} as const satisfies Record<string, Reply>;

/** Adds a generic enhanced status code (x.0.0) to a 2xx, 4xx or 5xx reply that carries none (RFC 2034). */
export function withEnhancedCode(r: Reply): Reply {
  if (r.enhanced !== undefined) return r;
  const category = Math.floor(r.code / 100);
  // RFC 2034: enhanced codes go on 2xx, 4xx and 5xx replies only; 3xx continuations stay bare.
  if (category !== 2 && category !== 4 && category !== 5) return r;
  return { code: r.code, enhanced: `${category}.0.0`, text: r.text };
}
