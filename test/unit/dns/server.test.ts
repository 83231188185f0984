import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { test } from 'node:test';
import { type DecodedPacket, decode, encode, type OptAnswer, type Packet, type RecordType } from 'dns-packet';
import { FrameReader, frameMessage } from '../../../src/dns/framing.js';
import { answerQuery } from '../../../src/dns/respond.js';
import { startDnsServer } from '../../../src/dns/server.js';
import { ZoneSet } from '../../../src/dns/zone.js';
import { parseZoneFile } from '../../../src/dns/zonefile.js';
import { startTestDns } from '../../helpers/dns.js';

const ZONE = `
$ORIGIN example.test.
mx A 127.0.0.2
${Array.from({ length: 30 }, (_, i) => `big TXT "${String(i).padStart(2, '0')}${'x'.repeat(98)}"`).join('\n')}
`;

function zones(): ZoneSet {
  const set = new ZoneSet();
  set.replaceAll(parseZoneFile(ZONE, { fileName: 'test' }));
  return set;
}

function edns(udpPayloadSize: number, ednsVersion = 0): OptAnswer {
  return {
    name: '.',
    type: 'OPT',
    udpPayloadSize,
    extendedRcode: 0,
    ednsVersion,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

function query(name: string, type: RecordType, extra: Partial<Packet> = {}): Buffer {
  return encode({
    type: 'query',
    id: 4242,
    flags: 0x0100,
    questions: [{ name, type, class: 'IN' }],
    ...extra,
  });
}

function ask(message: Buffer, transport: 'udp' | 'tcp' = 'udp'): DecodedPacket & { raw: Buffer } {
  const { response } = answerQuery(message, zones(), transport);
  assert.ok(response, 'expected a response');
  return { ...decode(response), raw: response };
}

function rcode(packet: DecodedPacket): number {
  return (packet.flags ?? 0) & 0xf;
}

test('answers authoritatively and echoes id, question and RD', () => {
  const reply = ask(query('MX.example.test', 'A'));
  assert.equal(reply.id, 4242);
  assert.equal(reply.flag_qr, true);
  assert.equal(reply.flag_aa, true);
  assert.equal(reply.flag_rd, true);
  assert.equal(reply.flag_ra, false);
  assert.deepEqual(reply.questions, [{ name: 'MX.example.test', type: 'A', class: 'IN' }]);
  assert.deepEqual(
    reply.answers?.map((a) => (a.type === 'A' ? a.data : '')),
    ['127.0.0.2'],
  );
});

test('NXDOMAIN with the SOA; REFUSED without AA outside our zones; zone transfers refused', () => {
  const missing = ask(query('nope.example.test', 'A'));
  assert.equal(rcode(missing), 3);
  assert.equal(missing.authorities?.[0]?.type, 'SOA');
  const outside = ask(query('example.org', 'A'));
  assert.equal(rcode(outside), 5);
  assert.equal(outside.flag_aa, false);
  assert.equal(rcode(ask(query('example.test', 'AXFR' as RecordType))), 5);
});

test('a UDP answer over 512 bytes (or the EDNS size) is sent empty with TC; TCP gets it whole', () => {
  const plain = ask(query('big.example.test', 'TXT'));
  assert.equal(plain.flag_tc, true);
  assert.deepEqual(plain.answers, []);
  assert.ok(plain.raw.length <= 512);

  const smallAnswer = ask(query('mx.example.test', 'A'));
  assert.equal(smallAnswer.flag_tc, false);

  const offered = ask(query('big.example.test', 'TXT', { additionals: [edns(4096)] }));
  assert.equal(offered.flag_tc, true, 'over 1232 bytes even with a 4096 offer');
  assert.equal(offered.additionals?.[0]?.type, 'OPT');

  const tcp = ask(query('big.example.test', 'TXT'), 'tcp');
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers?.length, 30);
});

test('garbage gets FORMERR, other opcodes NOTIMP, responses and runts no answer, EDNS1 BADVERS', () => {
  const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 0x41]);
  const formerr = answerQuery(garbage, zones(), 'udp');
  assert.equal(formerr.malformed, true);
  const decoded = decode(formerr.response ?? Buffer.alloc(0));
  assert.equal(decoded.id, 0x1234);
  assert.equal(rcode(decoded), 1);

  const twoQuestions = encode({
    type: 'query',
    id: 1,
    questions: [
      { name: 'a.example.test', type: 'A' },
      { name: 'b.example.test', type: 'A' },
    ],
  });
  assert.equal(rcode(ask(twoQuestions)), 1);

  const notify = query('example.test', 'SOA');
  notify.writeUInt16BE(0x2000, 2); // opcode 4 (NOTIFY)
  const notImplemented = ask(notify);
  assert.equal(rcode(notImplemented), 4);
  assert.equal(((notImplemented.flags ?? 0) >> 11) & 0xf, 4, 'opcode echoed');

  const response = query('mx.example.test', 'A');
  response.writeUInt16BE(0x8000, 2);
  assert.deepEqual(answerQuery(response, zones(), 'udp'), { response: undefined, malformed: true });
  assert.deepEqual(answerQuery(Buffer.from([1, 2, 3]), zones(), 'udp'), {
    response: undefined,
    malformed: true,
  });

  const future = ask(query('mx.example.test', 'A', { additionals: [edns(1232, 1)] }));
  const opt = future.additionals?.[0];
  assert.equal(opt?.type === 'OPT' ? opt.extendedRcode : -1, 1);
  assert.deepEqual(future.answers, []);
});

function udpExchange(port: number, messages: Buffer[]): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.on('error', reject);
    socket.on('message', (message) => {
      const packet = decode(message);
      if (packet.id !== 7) return; // replies to the junk sent first
      socket.close();
      resolve(packet);
    });
    for (const message of messages) socket.send(message, port, '127.0.0.1');
  });
}

test('the server survives malformed datagrams and keeps answering', async (t) => {
  const { server } = await startTestDns(t, ZONE);
  const junk = [
    Buffer.alloc(0),
    Buffer.from('hello'),
    Buffer.alloc(12, 0xff),
    Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]), // pointer loop
    Buffer.from([0, 2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, ...Buffer.alloc(70, 0x61), 0, 0, 1, 0, 1]),
  ];
  const valid = encode({ type: 'query', id: 7, questions: [{ name: 'mx.example.test', type: 'A' }] });
  const reply = await udpExchange(server.port, [...junk, valid]);
  assert.equal(rcode(reply), 0);
  assert.equal(reply.answers?.length, 1);
  assert.equal(server.stats().malformed, 6);
});

test('TCP: several queries per connection, frames split across writes', async (t) => {
  const { server } = await startTestDns(t, ZONE);
  const framed = Buffer.concat([
    frameMessage(encode({ type: 'query', id: 1, questions: [{ name: 'mx.example.test', type: 'A' }] })),
    frameMessage(encode({ type: 'query', id: 2, questions: [{ name: 'big.example.test', type: 'TXT' }] })),
    frameMessage(Buffer.from([9, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f, 0x61])), // label runs past the end
    frameMessage(encode({ type: 'query', id: 3, questions: [{ name: 'nope.example.test', type: 'A' }] })),
  ]);
  const replies = await new Promise<DecodedPacket[]>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const reader = new FrameReader();
    const got: DecodedPacket[] = [];
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) got.push(decode(message));
      if (got.length === 4) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('connect', () => {
      // One byte at a time for the first frame, then the rest at once.
      for (let i = 0; i < 10; i++) socket.write(framed.subarray(i, i + 1));
      socket.write(framed.subarray(10));
    });
  });
  assert.deepEqual(
    replies.map((reply) => [reply.id, rcode(reply), reply.answers?.length]),
    [
      [1, 0, 1],
      [2, 0, 30],
      [0x0909, 1, 0],
      [3, 3, 0],
    ],
  );
  assert.equal(server.stats().tcpQueries, 4);
});

test('port 0 picks one port for UDP and TCP; close releases it', async () => {
  const server = await startDnsServer({ port: 0, zones: zones() });
  assert.ok(server.port > 0);
  const port = server.port;
  await server.close();
  const again = await startDnsServer({ port, zones: zones() });
  assert.equal(again.port, port);
  await again.close();
  await assert.rejects(startDnsServer({ address: 'localhost', zones: zones() }), /must be an IP address/);
});
