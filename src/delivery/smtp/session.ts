// Opening an SMTP session ready for mail: greeting, EHLO (HELO as fallback), STARTTLS per policy,
// EHLO again, AUTH for a smarthost. What cannot be had here is a reason to try the next host.
import type { ConnectionOptions } from 'node:tls';
import { type Reply, reply } from '../../core/reply.js';
import { SmtpClientConnection, SmtpConnectionError } from './client.js';

/**
 * TLS for one destination: 'may' = STARTTLS when offered, certificate not checked (RFC 7435
 * opportunistic security); 'required' = STARTTLS or no delivery; 'verify' = required and the
 * certificate must chain to a trusted CA and name the host; 'none' = never (broken peers).
 */
export type TlsPolicy = 'none' | 'may' | 'required' | 'verify';

export interface SessionTimeouts {
  connectMs: number;
  commandMs: number;
}

/** How to reach one address of one host. */
export interface SessionRequest {
  /** The host name (MX exchange, smarthost): SNI and certificate name. */
  hostName: string;
  address: string;
  port: number;
  localAddress?: string;
  heloName: string;
  tls: TlsPolicy;
  /** TLS from the first byte instead of STARTTLS. */
  implicitTls?: boolean;
  /** CAs for 'verify' (default: Node's bundled roots). */
  ca?: ConnectionOptions['ca'];
  credentials?: { username: string; password: string };
  timeouts: SessionTimeouts;
}

/** An open session, greeted and (if asked) secured and authenticated, ready for MAIL. */
export interface Peer {
  client: SmtpClientConnection;
  /** Pool key: the same host, address, port and TLS policy share connections. */
  key: string;
  hostName: string;
  address: string;
  /** EHLO keywords (upper case) and their parameters. */
  extensions: Map<string, string>;
  /** "mx.example[192.0.2.1]" for replies and logs. */
  label: string;
  /** Messages sent on this connection so far. */
  messages: number;
}

/** A session could not be had at this address; `reply` is a temporary reply saying why. */
export interface SessionRefusal {
  reply: Reply;
  /** The TLS handshake failed under policy 'may': the same address may be tried without TLS. */
  tlsFailed?: boolean;
}

/** Sessions are shared only under the same TLS policy: a 'may' session may not be secure or verified. */
export function peerKey(request: Pick<SessionRequest, 'hostName' | 'address' | 'port' | 'tls'>): string {
  return `${request.hostName.toLowerCase()}|${request.address}|${request.port}|${request.tls}`;
}

export function peerLabel(hostName: string, address: string): string {
  return hostName === address || hostName === `[${address}]` ? `[${address}]` : `${hostName}[${address}]`;
}

/** EHLO reply lines after the first: "KEYWORD params". */
function parseExtensions(text: string): Map<string, string> {
  const extensions = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [keyword = '', ...params] = line.trim().split(/\s+/);
    if (keyword !== '') extensions.set(keyword.toUpperCase(), params.join(' '));
  }
  return extensions;
}

function temporary(enhanced: string, text: string): SessionRefusal {
  return { reply: reply(451, enhanced, text) };
}

/** One reply as a single line for the text of another. */
export function quoteReply(answer: Reply): string {
  const text = answer.text.replace(/\r?\n/g, ' ');
  return answer.enhanced === undefined
    ? `${answer.code} ${text}`
    : `${answer.code} ${answer.enhanced} ${text}`;
}

function tlsOptions(request: SessionRequest): ConnectionOptions {
  const verify = request.tls === 'verify';
  const options: ConnectionOptions = { rejectUnauthorized: verify, minVersion: 'TLSv1.2' };
  // SNI takes host names only (RFC 6066 3).
  if (!/^[[\d]|:/.test(request.hostName)) options.servername = request.hostName;
  if (verify && request.ca !== undefined) options.ca = request.ca;
  return options;
}

async function greet(
  client: SmtpClientConnection,
  request: SessionRequest,
  label: string,
): Promise<Map<string, string> | SessionRefusal> {
  const ehlo = await client.command(`EHLO ${request.heloName}`, request.timeouts.commandMs);
  if (ehlo.code === 250) return parseExtensions(ehlo.text);
  // RFC 5321 3.2: a server that does not know EHLO gets HELO.
  if (ehlo.code >= 500) {
    const helo = await client.command(`HELO ${request.heloName}`, request.timeouts.commandMs);
    if (helo.code === 250) return new Map();
    return temporary('4.4.0', `${label} refused HELO: ${quoteReply(helo)}`);
  }
  return temporary('4.4.0', `${label} refused EHLO: ${quoteReply(ehlo)}`);
}

/** STARTTLS and a new EHLO; the new extension list, or why TLS could not be had. */
async function secure(
  client: SmtpClientConnection,
  request: SessionRequest,
  label: string,
): Promise<Map<string, string> | SessionRefusal> {
  const answer = await client.command('STARTTLS', request.timeouts.commandMs);
  if (answer.code !== 220) return temporary('4.7.10', `${label} refused STARTTLS: ${quoteReply(answer)}`);
  try {
    await client.upgrade(tlsOptions(request), request.timeouts.commandMs);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ...temporary('4.7.10', `TLS with ${label} failed: ${detail}`),
      tlsFailed: request.tls === 'may',
    };
  }
  return greet(client, request, label);
}

/** AUTH PLAIN when offered, else LOGIN (RFC 4954). */
async function authenticate(
  client: SmtpClientConnection,
  extensions: Map<string, string>,
  credentials: { username: string; password: string },
  request: SessionRequest,
  label: string,
): Promise<SessionRefusal | undefined> {
  const mechanisms = (extensions.get('AUTH') ?? '').toUpperCase().split(/\s+/);
  const timeout = request.timeouts.commandMs;
  const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  let answer: Reply;
  if (mechanisms.includes('PLAIN')) {
    answer = await client.command(
      `AUTH PLAIN ${base64(`\0${credentials.username}\0${credentials.password}`)}`,
      timeout,
    );
  } else if (mechanisms.includes('LOGIN')) {
    answer = await client.command('AUTH LOGIN', timeout);
    if (answer.code === 334) answer = await client.command(base64(credentials.username), timeout);
    if (answer.code === 334) answer = await client.command(base64(credentials.password), timeout);
  } else {
    return temporary('4.7.8', `${label} offers no AUTH PLAIN or LOGIN`);
  }
  if (answer.code === 235) return undefined;
  // Wrong credentials are the operator's to fix; the mail waits in the queue meanwhile.
  return temporary('4.7.8', `${label} refused our credentials: ${quoteReply(answer)}`);
}

/**
 * Opens a session at one address. Resolves to the peer, or to a refusal (connection failure,
 * greeting other than 220, TLS required and not had, AUTH refused); never throws.
 */
export async function openSession(request: SessionRequest): Promise<Peer | SessionRefusal> {
  const label = peerLabel(request.hostName, request.address);
  let client: SmtpClientConnection | undefined;
  try {
    client = await SmtpClientConnection.open({
      host: request.address,
      port: request.port,
      localAddress: request.localAddress,
      timeoutMs: request.timeouts.connectMs,
      tls: request.implicitTls === true ? tlsOptions(request) : undefined,
    });
    const outcome = await establish(client, request, label);
    if ('reply' in outcome) {
      await client.quit(request.timeouts.commandMs);
      return outcome;
    }
    return {
      client,
      key: peerKey(request),
      hostName: request.hostName,
      address: request.address,
      extensions: outcome,
      label,
      messages: 0,
    };
  } catch (error) {
    client?.close();
    if (error instanceof SmtpConnectionError) {
      const code = error.kind === 'timeout' ? '4.4.1' : '4.4.0';
      return {
        ...temporary(code, `${label}: ${error.message}`),
        tlsFailed: error.kind === 'tls' && request.tls === 'may',
      };
    }
    throw error;
  }
}

/** Greeting to ready-for-MAIL on an open connection; the extensions, or why not. */
async function establish(
  client: SmtpClientConnection,
  request: SessionRequest,
  label: string,
): Promise<Map<string, string> | SessionRefusal> {
  const greeting = await client.readReply(request.timeouts.commandMs);
  // A 554 greeting is how a trusted MX turns away a sender it does not know: try the next MX.
  if (greeting.code !== 220)
    return temporary('4.4.1', `${label} refused the connection: ${quoteReply(greeting)}`);
  let extensions = await greet(client, request, label);
  if (!(extensions instanceof Map)) return extensions;
  const mustSecure = request.tls === 'required' || request.tls === 'verify';
  if (!client.secure && request.tls !== 'none' && extensions.has('STARTTLS')) {
    extensions = await secure(client, request, label);
    if (!(extensions instanceof Map)) return extensions;
  } else if (!client.secure && mustSecure) {
    return temporary('4.7.10', `TLS is required for ${label} but it does not offer STARTTLS`);
  }
  if (request.credentials !== undefined) {
    if (!client.secure && request.tls !== 'none') {
      return temporary('4.7.10', `Not sending credentials to ${label} without TLS`);
    }
    const refusal = await authenticate(client, extensions, request.credentials, request, label);
    if (refusal !== undefined) return refusal;
  }
  return extensions;
}
