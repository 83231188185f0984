import { type Answer, type DecodedPacket, decode, encode, type OptAnswer, type Question } from 'dns-packet';
import { toWireAnswer } from './records.js';
import { Rcode } from './wire.js';
import type { ZoneSet } from './zone.js';

/**
 * Turns one query message into the authoritative response bytes (RFC 1035, RFC 6891 for EDNS).
 * Pure: the server adds sockets around it, tests can call it with any bytes.
 */

/** The transport a query came over; UDP answers are limited in size, TCP ones are not. */
export type Transport = 'udp' | 'tcp';

/** The response to send (undefined: send nothing) and whether the query was malformed. */
export interface QueryResult {
  response: Buffer | undefined;
  malformed: boolean;
}

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const HEADER_BYTES = 12;
/** RFC 1035 limit for UDP without EDNS. */
const CLASSIC_UDP_LIMIT = 512;
/** The most we send over UDP whatever a client offers, and what we advertise. */
const MAX_UDP_PAYLOAD = 1232;
const MAX_TCP_MESSAGE = 0xffff;
/** RFC 6891 BADVERS (16) lives in the upper 8 bits of the extended rcode: 16 >> 4. */
const BADVERS_UPPER_BITS = 1;
const ZONE_TRANSFERS = new Set(['AXFR', 'IXFR']);

/** A response with only a header: for queries we cannot or will not parse further. */
function headerOnly(id: number, opcode: number, recursionDesired: number, rcode: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(QR | (opcode << 11) | recursionDesired | rcode, 2);
  return header;
}

function serverOpt(extendedRcode = 0): OptAnswer {
  return {
    name: '.',
    type: 'OPT',
    udpPayloadSize: MAX_UDP_PAYLOAD,
    extendedRcode,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

interface Reply {
  id: number;
  flags: number;
  question: Question;
  answers: Answer[];
  authorities: Answer[];
  opt: OptAnswer | undefined;
}

function encodeReply(reply: Reply): Buffer {
  return encode({
    id: reply.id,
    type: 'response',
    flags: reply.flags,
    questions: [reply.question],
    answers: reply.answers,
    authorities: reply.authorities,
    additionals: reply.opt ? [reply.opt] : [],
  });
}

/** Encodes the reply; when it does not fit, sends it empty with TC so the client retries over TCP. */
function fitted(reply: Reply, limit: number): Buffer {
  const full = encodeReply(reply);
  if (full.length <= limit) return full;
  if (limit >= MAX_TCP_MESSAGE) return headerOnly(reply.id, 0, reply.flags & RD, Rcode.SERVFAIL);
  return encodeReply({ ...reply, flags: reply.flags | TC, answers: [], authorities: [] });
}

function findOpt(query: DecodedPacket): { opt: OptAnswer | undefined; count: number } {
  let opt: OptAnswer | undefined;
  let count = 0;
  for (const record of query.additionals ?? []) {
    if (record.type === 'OPT') {
      opt = record;
      count++;
    }
  }
  return { opt, count };
}

/** The response to one query message, answered from `zones`. Never throws on bad input. */
export function answerQuery(message: Buffer, zones: ZoneSet, transport: Transport): QueryResult {
  // Too short to answer, or a response: never reply (replying to responses can start loops).
  if (message.length < HEADER_BYTES || (message.readUInt16BE(2) & QR) !== 0) {
    return { response: undefined, malformed: true };
  }
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  const opcode = (flags >> 11) & 0xf;
  const rd = flags & RD;
  if (opcode !== 0) return { response: headerOnly(id, opcode, rd, Rcode.NOTIMP), malformed: false };
  let query: DecodedPacket;
  try {
    query = decode(message);
  } catch {
    return { response: headerOnly(id, 0, rd, Rcode.FORMERR), malformed: true };
  }
  const { opt, count } = findOpt(query);
  const question = query.questions?.[0];
  if (!question || query.questions?.length !== 1 || count > 1) {
    return { response: headerOnly(id, 0, rd, Rcode.FORMERR), malformed: true };
  }
  const limit =
    transport === 'tcp'
      ? MAX_TCP_MESSAGE
      : Math.min(Math.max(opt?.udpPayloadSize ?? CLASSIC_UDP_LIMIT, CLASSIC_UDP_LIMIT), MAX_UDP_PAYLOAD);
  const base: Reply = {
    id,
    flags: rd,
    question,
    answers: [],
    authorities: [],
    opt: opt ? serverOpt() : undefined,
  };
  if (opt && opt.ednsVersion !== 0) {
    return { response: fitted({ ...base, opt: serverOpt(BADVERS_UPPER_BITS) }, limit), malformed: false };
  }
  const klass = question.class ?? 'IN';
  if (klass.startsWith('UNKNOWN_'))
    return { response: headerOnly(id, 0, rd, Rcode.REFUSED), malformed: false };
  if ((klass !== 'IN' && klass !== 'ANY') || ZONE_TRANSFERS.has(question.type)) {
    return { response: fitted({ ...base, flags: rd | Rcode.REFUSED }, limit), malformed: false };
  }
  const found = zones.lookup(question.name, question.type);
  const rcode = Rcode[found.rcode];
  const reply: Reply = {
    ...base,
    flags: rd | rcode | (found.rcode === 'REFUSED' ? 0 : AA),
    answers: found.answers.map((record) => toWireAnswer(record)),
    authorities: found.authority.map((record) => toWireAnswer(record)),
  };
  return { response: fitted(reply, limit), malformed: false };
}

/** SERVFAIL for a query we failed to answer because of our own fault (logged by the caller). */
export function serverFailure(message: Buffer): Buffer | undefined {
  if (message.length < HEADER_BYTES) return undefined;
  return headerOnly(message.readUInt16BE(0), 0, message.readUInt16BE(2) & RD, Rcode.SERVFAIL);
}
