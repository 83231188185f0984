import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import {
  type DecodedPacket,
  decode,
  encode,
  type OptAnswer,
  type RecordType as PacketRecordType,
  RECURSION_DESIRED,
} from 'dns-packet';
import { type DnsErrorCode, DnsLookupError, syscallFor } from './errors.js';
import { FrameReader, frameMessage } from './framing.js';
import { nameProblem, normalizeName } from './names.js';

/** A DNS server to ask: an IP literal and a port. */
export interface NameServer {
  host: string;
  port: number;
  family: 4 | 6;
  /** 'host:port' or '[v6]:port', for messages. */
  label: string;
}

/** One question; `type` may be any type dns-packet knows (the CLI asks for ANY, for example). */
export interface WireQuestion {
  name: string;
  type: PacketRecordType;
}

/** Per-attempt timeout and how many rounds over all servers. */
export interface WireOptions {
  timeoutMs: number;
  tries: number;
}

/** A response that answered the question: NOERROR or NXDOMAIN, from one server. */
export interface WireReply {
  packet: DecodedPacket;
  rcode: number;
  server: NameServer;
  transport: 'udp' | 'tcp';
}

/** Response codes (RFC 1035 section 4.1.1). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
/** The UDP payload size we offer (the DNS flag day 2020 value, safe from fragmentation). */
const EDNS_UDP_SIZE = 1232;
const PORT = /^\d{1,5}$/;
const QR_AND_TC = 0x8200;

/** The header's response code. */
export function rcodeOf(packet: DecodedPacket): number {
  return (packet.flags ?? 0) & 0xf;
}

/** The name of a response code ('SERVFAIL'), or 'RCODE_n'. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE_${rcode}`;
}

/**
 * Parses 'ip', 'ip:port', 'ipv6' or '[ipv6]:port' (`defaultPort` when omitted); host names are not
 * allowed. `what` names the setting in errors; `minPort` 0 allows "any free port" for listeners.
 */
export function parseIpPort(spec: string, what: string, defaultPort: number, minPort = 1): NameServer {
  const text = spec.trim();
  const bad = (why: string): Error =>
    new Error(`invalid ${what} '${spec}': ${why} (expected 'ip', 'ip:port' or '[ipv6]:port')`);
  let host = text;
  let portText = String(defaultPort);
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) throw bad("missing ']'");
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw bad("expected ':' after ']'");
      portText = rest.slice(1);
    }
  } else if (isIP(text) !== 6 && text.includes(':')) {
    host = text.slice(0, text.lastIndexOf(':'));
    portText = text.slice(text.lastIndexOf(':') + 1);
  }
  const family = isIP(host);
  if (family !== 4 && family !== 6) throw bad('not an IP address');
  const port = Number(portText);
  if (!PORT.test(portText) || port < minPort || port > 65535) throw bad(`port must be ${minPort}..65535`);
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** A DNS server address: 'ip', 'ip:port', 'ipv6' or '[ipv6]:port' (port 53 when omitted). */
export function parseNameServer(spec: string): NameServer {
  return parseIpPort(spec, 'DNS server', 53);
}

interface PreparedQuestion extends WireQuestion {
  normalName: string;
}

type Attempt =
  | { kind: 'answer'; packet: DecodedPacket; transport: 'udp' | 'tcp' }
  | { kind: 'truncated' }
  | { kind: 'silent'; detail: string };

function silent(detail: string): Attempt {
  return { kind: 'silent', detail };
}

function buildQuery(question: WireQuestion, id: number, edns: boolean): Buffer {
  const opt: OptAnswer = {
    name: '.',
    type: 'OPT',
    udpPayloadSize: EDNS_UDP_SIZE,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
  return encode({
    type: 'query',
    id,
    flags: RECURSION_DESIRED,
    questions: [{ name: question.name, type: question.type, class: 'IN' }],
    additionals: edns ? [opt] : [],
  });
}

/**
 * The response to our query, or undefined for anything else (wrong id, wrong question, garbage:
 * possibly spoofed, so we keep waiting). A truncated answer we cannot decode still means "use TCP".
 */
function acceptResponse(
  message: Buffer,
  id: number,
  question: PreparedQuestion,
): DecodedPacket | 'truncated' | undefined {
  if (message.length < 12 || message.readUInt16BE(0) !== id) return undefined;
  let packet: DecodedPacket;
  try {
    packet = decode(message);
  } catch {
    return (message.readUInt16BE(2) & QR_AND_TC) === QR_AND_TC ? 'truncated' : undefined;
  }
  if (!packet.flag_qr) return undefined;
  const asked = packet.questions ?? [];
  const rcode = rcodeOf(packet);
  // Error responses (FORMERR, NOTIMP...) may come without the question section.
  if (asked.length === 0) return rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN ? packet : undefined;
  const [first] = asked;
  if (asked.length !== 1 || first?.type !== question.type) return undefined;
  return normalizeName(first.name) === question.normalName ? packet : undefined;
}

function udpAttempt(
  server: NameServer,
  question: PreparedQuestion,
  edns: boolean,
  timeoutMs: number,
): Promise<Attempt> {
  const id = randomInt(0x10000);
  const query = buildQuery(question, id, edns);
  return new Promise((resolve) => {
    const socket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (attempt: Attempt): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(attempt);
    };
    const timer = setTimeout(() => finish(silent('timed out')), timeoutMs);
    socket.on('error', (error) => finish(silent(error.message)));
    socket.on('message', (message) => {
      const response = acceptResponse(message, id, question);
      if (response === 'truncated') finish({ kind: 'truncated' });
      else if (response) finish({ kind: 'answer', packet: response, transport: 'udp' });
    });
    // A connected socket only receives datagrams from the server we asked.
    socket.connect(server.port, server.host, () => {
      socket.send(query, (error) => {
        if (error) finish(silent(error.message));
      });
    });
  });
}

function tcpAttempt(server: NameServer, question: PreparedQuestion, timeoutMs: number): Promise<Attempt> {
  const id = randomInt(0x10000);
  const query = frameMessage(buildQuery(question, id, false));
  return new Promise((resolve) => {
    const socket = connect({ host: server.host, port: server.port });
    const reader = new FrameReader();
    let done = false;
    const finish = (attempt: Attempt): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(attempt);
    };
    const timer = setTimeout(() => finish(silent('timed out over TCP')), timeoutMs);
    socket.on('connect', () => socket.write(query));
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const response = acceptResponse(message, id, question);
        if (response && response !== 'truncated')
          finish({ kind: 'answer', packet: response, transport: 'tcp' });
      }
    });
    socket.on('error', (error) => finish(silent(`TCP: ${error.message}`)));
    socket.on('close', () => finish(silent('TCP connection closed without an answer')));
  });
}

/** One server: UDP with EDNS, without EDNS if the server does not speak it, TCP when truncated. */
async function askServer(
  server: NameServer,
  question: PreparedQuestion,
  timeoutMs: number,
): Promise<Attempt> {
  let attempt = await udpAttempt(server, question, true, timeoutMs);
  if (attempt.kind === 'answer') {
    const rcode = rcodeOf(attempt.packet);
    if (rcode === Rcode.FORMERR || rcode === Rcode.NOTIMP)
      attempt = await udpAttempt(server, question, false, timeoutMs);
  }
  const truncated = attempt.kind === 'truncated' || (attempt.kind === 'answer' && attempt.packet.flag_tc);
  return truncated ? tcpAttempt(server, question, timeoutMs) : attempt;
}

/**
 * Asks the servers in turn, `tries` rounds, until one answers NOERROR or NXDOMAIN. Throws a
 * DnsLookupError: EBADNAME, ESERVFAIL / EREFUSED (what the servers said), or ETIMEOUT (no answer).
 */
export async function exchange(
  servers: readonly NameServer[],
  question: WireQuestion,
  options: WireOptions,
): Promise<WireReply> {
  const syscall = syscallFor(question.type);
  const problem = nameProblem(question.name);
  if (problem) throw new DnsLookupError('EBADNAME', question.name, syscall, problem);
  const prepared: PreparedQuestion = { ...question, normalName: normalizeName(question.name) };
  let refusal: { code: DnsErrorCode; detail: string } | undefined;
  let silence = 'no DNS servers configured';
  const refusing = new Set<NameServer>();
  for (let round = 0; round < Math.max(1, options.tries); round++) {
    for (const server of servers) {
      // REFUSED is policy, not a passing fault: asking again in the next round would not help.
      if (refusing.has(server)) continue;
      const attempt = await askServer(server, prepared, options.timeoutMs);
      if (attempt.kind === 'answer') {
        const rcode = rcodeOf(attempt.packet);
        if (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN) {
          return { packet: attempt.packet, rcode, server, transport: attempt.transport };
        }
        const code = rcode === Rcode.REFUSED ? 'EREFUSED' : 'ESERVFAIL';
        if (rcode === Rcode.REFUSED) refusing.add(server);
        refusal = { code, detail: `${server.label} answered ${rcodeName(rcode)}` };
      } else if (attempt.kind === 'silent') {
        silence = `${server.label}: ${attempt.detail}`;
      }
    }
  }
  // A server that answered (SERVFAIL, REFUSED) tells more than one that stayed silent.
  if (refusal) throw new DnsLookupError(refusal.code, question.name, syscall, refusal.detail);
  throw new DnsLookupError('ETIMEOUT', question.name, syscall, silence);
}
