import { formatAddress, ipv4Text } from './network.js';
import { NOT_LISTED } from './ranges.js';
import { type ServedList, type Slot, zoneSoa } from './served.js';

/**
 * The trust list's hot path: a hand-written DNS codec for the one query shape that matters, A or
 * TXT at `<reversed address>.<zone>` (4 decimal labels, or 32 hex nibbles for IPv6), class IN, with
 * or without an EDNS(0) OPT record. It reads the question in place and writes the answer from
 * bytes encoded once per list version. Anything else (the apex, other types, odd flags, EDNS
 * versions it does not speak) returns undefined and goes to the general dns-packet path; tests
 * decode its answers with dns-packet and compare them with that path's.
 */

const HEADER = 12;
const TYPE_A = 1;
const TYPE_TXT = 16;
const TYPE_SOA = 6;
const TYPE_OPT = 41;
const CLASS_IN = 1;
const FLAG_QR = 0x80;
const FLAG_AA = 0x04;
const FLAG_RD = 0x01;
const RCODE_NXDOMAIN = 3;
const MAX_LABELS = 128;
/** RFC 1035 limit without EDNS, and the most we send with it (the general path's limits). */
const CLASSIC_UDP_LIMIT = 512;
const MAX_UDP_PAYLOAD = 1232;
/** Our OPT record: root owner, type 41, payload 1232, extended rcode 0, version 0, no flags, no options. */
const SERVER_OPT = Buffer.from([0, 0, TYPE_OPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
const A_RECORD_BYTES = 16;

/** Scratch space for one parse; the responder is single-threaded, so one set serves every query. */
const labelStarts = new Int32Array(MAX_LABELS);
const ipv6Scratch = new Uint8Array(16);

function writeRecordHeader(
  out: Buffer,
  offset: number,
  type: number,
  ttl: number,
  dataLength: number,
): number {
  out[offset] = 0xc0; // owner: pointer to the question name at offset 12
  out[offset + 1] = HEADER;
  out.writeUInt16BE(type, offset + 2);
  out.writeUInt16BE(CLASS_IN, offset + 4);
  out.writeUInt32BE(ttl, offset + 6);
  out.writeUInt16BE(dataLength, offset + 10);
  return offset + 12;
}

function nameToWire(name: string): Buffer {
  const labels = name === '' ? [] : name.split('.');
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.of(label.length), Buffer.from(label)])),
    Buffer.of(0),
  ]);
}

/** Case-insensitive compare of the query's zone suffix with the zone (label lengths are < 0x41). */
function sameZone(message: Buffer, start: number, zone: Buffer): boolean {
  for (let i = 0; i < zone.length; i++) {
    let byte = message[start + i] as number;
    if (byte >= 0x41 && byte <= 0x5a) byte |= 0x20;
    if (byte !== zone[i]) return false;
  }
  return true;
}

/** A decimal octet label (1-3 digits, no leading zero, at most 255), or -1. */
function octetAt(message: Buffer, start: number): number {
  const length = message[start] as number;
  if (length < 1 || length > 3) return -1;
  if (length > 1 && message[start + 1] === 0x30) return -1;
  let value = 0;
  for (let i = 1; i <= length; i++) {
    const digit = (message[start + i] as number) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= 255 ? value : -1;
}

/** A one-character hex nibble label, or -1. */
function nibbleAt(message: Buffer, start: number): number {
  if (message[start] !== 1) return -1;
  const char = (message[start + 1] as number) | 0x20;
  if (char >= 0x30 && char <= 0x39) return char - 0x30;
  if (char >= 0x61 && char <= 0x66) return char - 0x57;
  return -1;
}

/** Answers the fixed query shape from one version of the list. */
export class FastResponder {
  private readonly zoneWire: Buffer;
  private readonly zoneLabels: number;
  private readonly aRecords: Buffer;
  private readonly fixedTxt: (Buffer | undefined)[];
  private readonly soaTail: Buffer;

  constructor(private readonly list: ServedList) {
    const { settings } = list;
    this.zoneWire = nameToWire(list.zone);
    this.zoneLabels = list.zone === '' ? 0 : list.zone.split('.').length;
    this.aRecords = Buffer.alloc(list.slots.length * A_RECORD_BYTES);
    const encodedTexts = new Map<string, Buffer>();
    this.fixedTxt = list.slots.map((slot, index) => {
      const at = writeRecordHeader(this.aRecords, index * A_RECORD_BYTES, TYPE_A, settings.ttl, 4);
      this.aRecords.set(slot.address, at);
      if (slot.fixedText === undefined || slot.fixedText === '') return undefined;
      let encoded = encodedTexts.get(slot.fixedText);
      if (!encoded) {
        encoded = this.txtRecord(slot.fixedText);
        encodedTexts.set(slot.fixedText, encoded);
      }
      return encoded;
    });
    const soa = zoneSoa(settings, list.serial);
    const soaData = Buffer.concat([nameToWire(soa.mname), nameToWire(soa.rname), Buffer.alloc(20)]);
    const numbers = [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum];
    numbers.forEach((value, i) => {
      soaData.writeUInt32BE(value, soaData.length - 20 + i * 4);
    });
    // The SOA after its 2-byte owner pointer: type, class, TTL, length, data.
    this.soaTail = Buffer.alloc(10 + soaData.length);
    this.soaTail.writeUInt16BE(TYPE_SOA, 0);
    this.soaTail.writeUInt16BE(CLASS_IN, 2);
    this.soaTail.writeUInt32BE(settings.negativeTtl, 4);
    this.soaTail.writeUInt16BE(soaData.length, 8);
    soaData.copy(this.soaTail, 10);
  }

  private txtRecord(text: string): Buffer {
    const record = Buffer.alloc(12 + 1 + text.length);
    const at = writeRecordHeader(record, 0, TYPE_TXT, this.list.settings.ttl, 1 + text.length);
    record[at] = text.length;
    record.write(text, at + 1, 'latin1');
    return record;
  }

  /** The response bytes for a query of the fixed shape, or undefined to use the general path. */
  respond(message: Buffer): Buffer | undefined {
    const length = message.length;
    if (length < HEADER + 5) return undefined;
    const flags = message[2] as number;
    if ((flags & 0xf8) !== 0) return undefined; // a response, or an opcode other than QUERY
    if (message.readUInt16BE(4) !== 1 || message.readUInt16BE(6) !== 0 || message.readUInt16BE(8) !== 0) {
      return undefined;
    }
    const additional = message.readUInt16BE(10);
    if (additional > 1) return undefined;
    let position = HEADER;
    let labels = 0;
    for (;;) {
      const labelLength = message[position];
      if (labelLength === undefined || labelLength > 63 || labels === MAX_LABELS) return undefined;
      if (labelLength === 0) break;
      labelStarts[labels++] = position;
      position += labelLength + 1;
    }
    const nameEnd = position + 1;
    if (nameEnd + 4 > length) return undefined;
    const type = message.readUInt16BE(nameEnd);
    if ((type !== TYPE_A && type !== TYPE_TXT) || message.readUInt16BE(nameEnd + 2) !== CLASS_IN)
      return undefined;
    const questionEnd = nameEnd + 4;
    let limit = CLASSIC_UDP_LIMIT;
    if (additional === 1) {
      // Exactly one OPT record, EDNS version 0, filling the rest of the message.
      if (questionEnd + 11 > length || message[questionEnd] !== 0) return undefined;
      if (message.readUInt16BE(questionEnd + 1) !== TYPE_OPT || message[questionEnd + 6] !== 0)
        return undefined;
      if (questionEnd + 11 + message.readUInt16BE(questionEnd + 9) !== length) return undefined;
      limit = Math.min(Math.max(message.readUInt16BE(questionEnd + 3), CLASSIC_UDP_LIMIT), MAX_UDP_PAYLOAD);
    } else if (questionEnd !== length) return undefined;

    const addressLabels = labels - this.zoneLabels;
    if (addressLabels !== 4 && addressLabels !== 32) return undefined;
    const zoneStart = labelStarts[addressLabels] as number;
    if (nameEnd - zoneStart !== this.zoneWire.length || !sameZone(message, zoneStart, this.zoneWire)) {
      return undefined;
    }
    let slotNumber: number;
    let ipv4 = -1;
    if (addressLabels === 4) {
      // The first label is the last octet.
      const d = octetAt(message, labelStarts[0] as number);
      const c = octetAt(message, labelStarts[1] as number);
      const b = octetAt(message, labelStarts[2] as number);
      const a = octetAt(message, labelStarts[3] as number);
      if ((a | b | c | d) < 0) return undefined;
      ipv4 = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
      slotNumber = this.list.lookupIpv4(ipv4);
    } else {
      for (let i = 0; i < 32; i++) {
        const nibble = nibbleAt(message, labelStarts[i] as number);
        if (nibble < 0) return undefined;
        const byteIndex = 15 - (i >> 1);
        ipv6Scratch[byteIndex] = i & 1 ? (ipv6Scratch[byteIndex] as number) | (nibble << 4) : nibble;
      }
      slotNumber = this.list.lookupIpv6(ipv6Scratch);
    }
    const slot = slotNumber === NOT_LISTED ? undefined : this.list.slots[slotNumber];
    return this.answer(
      message,
      slot,
      slotNumber,
      type,
      questionEnd,
      zoneStart,
      additional === 1,
      limit,
      ipv4,
    );
  }

  private answer(
    message: Buffer,
    slot: Slot | undefined,
    slotNumber: number,
    type: number,
    questionEnd: number,
    zoneStart: number,
    edns: boolean,
    limit: number,
    ipv4: number,
  ): Buffer | undefined {
    let record: Buffer | undefined;
    if (slot !== undefined && type === TYPE_A && slot.listed) {
      record = this.aRecords.subarray(slotNumber * A_RECORD_BYTES, (slotNumber + 1) * A_RECORD_BYTES);
    } else if (slot !== undefined && type === TYPE_TXT) {
      record = this.fixedTxt[slotNumber];
      if (slot.fixedText === undefined) {
        const address = ipv4 >= 0 ? ipv4Text(ipv4) : formatAddress({ family: 6, bytes: ipv6Scratch });
        const text = this.list.textFor(slot, address);
        record = text === '' ? undefined : this.txtRecord(text);
      }
    }
    const negative = record === undefined;
    const body = record === undefined ? 2 + this.soaTail.length : record.length;
    const size = questionEnd + body + (edns ? SERVER_OPT.length : 0);
    if (size > limit) return undefined; // let the general path truncate
    const out = Buffer.allocUnsafe(size);
    message.copy(out, 0, 0, questionEnd);
    out[2] = FLAG_QR | FLAG_AA | ((message[2] as number) & FLAG_RD);
    out[3] = slot === undefined ? RCODE_NXDOMAIN : 0;
    out.writeUInt16BE(negative ? 0 : 1, 6);
    out.writeUInt16BE(negative ? 1 : 0, 8);
    out.writeUInt16BE(edns ? 1 : 0, 10);
    let offset = questionEnd;
    if (record === undefined) {
      out[offset] = 0xc0 | (zoneStart >> 8);
      out[offset + 1] = zoneStart & 0xff;
      offset += 2 + this.soaTail.copy(out, offset + 2);
    } else offset += record.copy(out, offset);
    if (edns) SERVER_OPT.copy(out, offset);
    return out;
  }
}
