/**
 * The error catalogue: every error outpost reports has one stable code, one SMTP reply and one HTTP
 * status. SMTP and HTTP turn the same error into their own reply; the detail goes to the log only.
 */
export const Errors = {
  // SMTP protocol
  SYNTAX_ERROR: { smtp: [500, '5.5.2', 'Syntax error, command unrecognized'], http: 400 },
  PARAM_SYNTAX: { smtp: [501, '5.5.4', 'Syntax error in parameters or arguments'], http: 400 },
  BAD_SEQUENCE: { smtp: [503, '5.5.1', 'Bad sequence of commands'], http: 409 },
  PARAM_NOT_IMPLEMENTED: { smtp: [555, '5.5.4', 'Parameter not recognized or not implemented'], http: 400 },
  LINE_TOO_LONG: { smtp: [500, '5.5.6', 'Line too long'], http: 400 },
  TOO_MANY_RECIPIENTS: { smtp: [452, '4.5.3', 'Too many recipients'], http: 400 },
  TOO_MANY_HOPS: { smtp: [554, '5.4.6', 'Too many hops: the message is looping'], http: 400 },
  MESSAGE_TOO_BIG: { smtp: [552, '5.3.4', 'Message size exceeds fixed limit'], http: 413 },
  BARE_LINE_ENDING: { smtp: [550, '5.6.0', 'Bare CR or LF in message, use CRLF line endings'], http: 400 },
  NUL_IN_MESSAGE: { smtp: [550, '5.6.0', 'NUL character in message'], http: 400 },
  TIMEOUT: { smtp: [421, '4.4.2', 'Timeout, closing connection'], http: 408 },
  TOO_MANY_CONNECTIONS: { smtp: [421, '4.7.0', 'Too many connections, try again later'], http: 503 },
  SHUTTING_DOWN: { smtp: [421, '4.3.2', 'Service shutting down, try again later'], http: 503 },
  TOO_MANY_ERRORS: { smtp: [421, '4.7.0', 'Too many errors, closing connection'], http: 429 },
  SMTPUTF8_REQUIRED: { smtp: [553, '5.6.7', 'Non-ASCII address requires SMTPUTF8'], http: 400 },
  BAD_ADDRESS: { smtp: [553, '5.1.3', 'Bad address syntax'], http: 400 },
  // Policy
  NO_SUCH_USER: { smtp: [550, '5.1.1', 'No such user here'], http: 404 },
  RELAY_DENIED: { smtp: [554, '5.7.1', 'Relay access denied'], http: 403 },
  RATE_LIMITED: { smtp: [450, '4.7.1', 'Too many messages, try again later'], http: 429 },
  POLICY_REJECT: { smtp: [550, '5.7.1', 'Message refused by policy'], http: 403 },
  POLICY_DEFER: { smtp: [451, '4.7.1', 'Message deferred by policy, try again later'], http: 503 },
  // Submission (RFC 6409, RFC 4954)
  AUTH_REQUIRED: { smtp: [530, '5.7.0', 'Authentication required'], http: 401 },
  SENDER_NOT_OWNED: { smtp: [553, '5.7.1', 'Sender address not owned by the authenticated user'], http: 403 },
  NULL_SENDER_REFUSED: { smtp: [553, '5.7.1', 'Null sender not allowed for submission'], http: 403 },
  // Local problems
  QUEUE_UNAVAILABLE: { smtp: [451, '4.3.0', 'Temporary local problem, try again'], http: 503 },
  DISK_FULL: { smtp: [452, '4.3.1', 'Insufficient system storage'], http: 507 },
  // HTTP API
  NOT_FOUND: { smtp: [550, '5.1.1', 'Not found'], http: 404 },
  UNAUTHORIZED: { smtp: [535, '5.7.8', 'Authentication credentials invalid'], http: 401 },
  BAD_REQUEST: { smtp: [501, '5.5.4', 'Bad request'], http: 400 },
  CONFLICT: { smtp: [503, '5.5.1', 'Conflicting state'], http: 409 },
  FORBIDDEN: { smtp: [554, '5.7.1', 'Forbidden'], http: 403 },
  // IM2000 pull mail (docs/protocols/im2000.md)
  IM2000_UNKNOWN_MESSAGE: { smtp: [550, '5.1.1', 'No such IM2000 message'], http: 404 },
  IM2000_BAD_TOKEN: { smtp: [550, '5.7.1', 'Wrong or missing fetch token'], http: 403 },
  IM2000_TOKEN_USED: { smtp: [550, '5.7.1', 'Fetch token already used'], http: 410 },
  IM2000_RECALLED: { smtp: [550, '5.7.1', 'Message recalled by its sender'], http: 410 },
  IM2000_EXPIRED: { smtp: [550, '5.4.7', 'Message expired'], http: 410 },
  IM2000_ALREADY_FETCHED: { smtp: [550, '5.7.1', 'Message already fetched, cannot recall'], http: 409 },
  IM2000_QUOTA_EXCEEDED: { smtp: [452, '4.2.2', 'Sender storage quota exceeded'], http: 507 },
  IM2000_BAD_SIGNATURE: { smtp: [550, '5.7.1', 'Signature invalid or no key published'], http: 403 },
  IM2000_WRONG_HOST: { smtp: [550, '5.7.1', "Fetch URL is not the sender domain's post office"], http: 403 },
  IM2000_DIGEST_MISMATCH: { smtp: [451, '4.3.0', 'Fetched message differs from its notice'], http: 502 },
  // Configuration
  CONFIG_INVALID: { smtp: [451, '4.3.5', 'Server configuration error'], http: 500 },
} as const satisfies Record<string, { smtp: readonly [number, string, string]; http: number }>;

export type ErrorCode = keyof typeof Errors;

export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${Errors[code].smtp[2]}: ${detail}` : Errors[code].smtp[2]);
    this.name = 'OutpostError';
    this.code = code;
    this.detail = detail;
  }
  get smtp(): readonly [number, string, string] {
    return Errors[this.code].smtp;
  }
  get httpStatus(): number {
    return Errors[this.code].http;
  }
}

export function isOutpostError(error: unknown): error is OutpostError {
  return error instanceof OutpostError;
}

/** The system error code of a thrown value (ENOENT, ENOSPC, ...), when it has one. */
export function systemErrorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

/** True for a file system error saying the file or directory is not there. */
export function isNotFound(error: unknown): boolean {
  return systemErrorCode(error) === 'ENOENT';
}

/** A short description of any thrown value for logs and error lines; never a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
