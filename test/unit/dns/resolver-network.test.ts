import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { type TestContext, test } from 'node:test';
import { type Answer, type DecodedPacket, decode, encode, type Packet } from 'dns-packet';
import { FrameReader, frameMessage } from '../../../src/dns/framing.js';
import { createResolver } from '../../../src/dns/resolver.js';
import { startTestDns } from '../../helpers/dns.js';

/** What a scripted server sends back for one query: packets (id and question filled in) or raw bytes. */
type Script = (query: DecodedPacket, transport: 'udp' | 'tcp') => Array<Partial<Packet> | Buffer>;

interface Scripted {
  address: string;
  received: Array<{ query: DecodedPacket; transport: 'udp' | 'tcp' }>;
}

const SERVFAIL = 2;
const FORMERR = 1;
const REFUSED = 5;
const QR_AA = 0x8400;

function bytesFor(query: DecodedPacket, reply: Partial<Packet> | Buffer): Buffer {
  if (Buffer.isBuffer(reply)) return reply;
  return encode({ type: 'response', id: query.id, questions: query.questions, flags: 0x0400, ...reply });
}

function a(name: string, data: string): Answer {
  return { name, type: 'A', ttl: 300, class: 'IN', data };
}

/** A DNS server on 127.0.0.1 (UDP and TCP on one port) that answers as the test script says. */
async function scriptedServer(t: TestContext, script: Script): Promise<Scripted> {
  const received: Scripted['received'] = [];
  const handle = (message: Buffer, transport: 'udp' | 'tcp'): Buffer[] => {
    const query = decode(message);
    received.push({ query, transport });
    return script(query, transport).map((reply) => bytesFor(query, reply));
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp: UdpSocket = createSocket('udp4');
    udp.on('message', (message, peer) => {
      for (const reply of handle(message, 'udp')) udp.send(reply, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const tcp: Server = createServer((socket) => {
      const reader = new FrameReader();
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        for (const message of reader.push(chunk)) {
          for (const reply of handle(message, 'tcp')) socket.write(frameMessage(reply));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listening) {
      t.after(() => {
        udp.close();
        tcp.close();
      });
      return { address: `127.0.0.1:${port}`, received };
    }
    udp.close();
  }
  throw new Error('no port free for both UDP and TCP');
}

test('a server that never answers gives ETIMEOUT after `tries` attempts', async (t) => {
  const silent = await scriptedServer(t, () => []);
  const resolver = createResolver({ servers: [silent.address], timeoutMs: 50, tries: 3 });
  await assert.rejects(resolver.resolve4('quiet.test'), (error: unknown) => {
    assert.equal((error as { code?: string }).code, 'ETIMEOUT');
    assert.match((error as Error).message, /^queryA ETIMEOUT quiet\.test \(.*timed out\)$/);
    return true;
  });
  assert.equal(silent.received.length, 3);
  assert.ok(silent.received.every(({ transport }) => transport === 'udp'));
});

test('SERVFAIL is retried and then reported; the next server is asked first', async (t) => {
  const failing = await scriptedServer(t, () => [{ flags: SERVFAIL }]);
  const alone = createResolver({ servers: [failing.address], timeoutMs: 500, tries: 2 });
  await assert.rejects(alone.resolve4('x.test'), { code: 'ESERVFAIL' });
  assert.equal(failing.received.length, 2);

  const { serverAddress } = await startTestDns(t, '$ORIGIN x.test.\n@ A 127.0.0.9\n');
  const withBackup = createResolver({ servers: [failing.address, serverAddress], timeoutMs: 500, tries: 2 });
  assert.deepEqual(await withBackup.resolve4('x.test'), ['127.0.0.9']);
  assert.equal(failing.received.length, 3);
});

test('REFUSED is not asked again in later rounds', async (t) => {
  const refusing = await scriptedServer(t, () => [{ flags: REFUSED }]);
  const resolver = createResolver({ servers: [refusing.address], timeoutMs: 500, tries: 3 });
  await assert.rejects(resolver.resolveMx('x.test'), { code: 'EREFUSED' });
  assert.equal(refusing.received.length, 1);
});

test('answers with the wrong id or question are ignored (spoofing)', async (t) => {
  const spoofer = await scriptedServer(t, (query) => [
    encode({
      type: 'response',
      id: (query.id ?? 0) ^ 1,
      questions: query.questions,
      answers: [a('x.test', '6.6.6.6')],
    }),
    encode({
      type: 'response',
      id: query.id,
      questions: [{ name: 'other.test', type: 'A' }],
      answers: [a('other.test', '6.6.6.6')],
    }),
    Buffer.from([(query.id ?? 0) >> 8, (query.id ?? 0) & 0xff, 0x84, 0, 0, 1, 0, 1]), // runt with our id
    { answers: [a('x.test', '192.0.2.1')] },
  ]);
  const resolver = createResolver({ servers: [spoofer.address], timeoutMs: 1000 });
  assert.deepEqual(await resolver.resolve4('x.test'), ['192.0.2.1']);
});

test('a server that rejects EDNS is asked again without it', async (t) => {
  const old = await scriptedServer(t, (query) =>
    (query.additionals ?? []).some((record) => record.type === 'OPT')
      ? [{ flags: FORMERR, questions: [] }]
      : [{ answers: [a('x.test', '192.0.2.2')] }],
  );
  const resolver = createResolver({ servers: [old.address], timeoutMs: 1000 });
  assert.deepEqual(await resolver.resolve4('x.test'), ['192.0.2.2']);
  assert.equal(old.received.length, 2);
});

test('a truncated answer too broken to decode still sends the query to TCP', async (t) => {
  const server = await scriptedServer(t, (query, transport) => {
    if (transport === 'tcp') return [{ answers: [a('x.test', '192.0.2.3')] }];
    const header = Buffer.alloc(14);
    header.writeUInt16BE(query.id ?? 0, 0);
    header.writeUInt16BE(QR_AA | 0x0200, 2); // QR, AA, TC
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(0x3f61, 12); // a label that runs past the end
    return [header];
  });
  const resolver = createResolver({ servers: [server.address], timeoutMs: 1000 });
  assert.deepEqual(await resolver.resolve4('x.test'), ['192.0.2.3']);
  assert.deepEqual(
    server.received.map(({ transport }) => transport),
    ['udp', 'tcp'],
  );
});

test('a CNAME the server did not follow is followed by the resolver, and both steps are cached', async (t) => {
  const soa: Answer = {
    name: 'alias.test',
    type: 'SOA',
    ttl: 60,
    class: 'IN',
    data: { mname: 'ns.alias.test', rname: 'h.alias.test', minimum: 60 },
  };
  const server = await scriptedServer(t, (query) => {
    const name = query.questions?.[0]?.name;
    const alias: Answer = {
      name: 'alias.test',
      type: 'CNAME',
      ttl: 300,
      class: 'IN',
      data: 'target.example',
    };
    if (name === 'alias.test') return [{ answers: [alias] }];
    if (name === 'nodata.alias.test') {
      return [{ answers: [{ ...alias, name: 'nodata.alias.test', data: 'alias.test' }], authorities: [soa] }];
    }
    return [{ answers: [a('target.example', '192.0.2.4')] }];
  });
  const resolver = createResolver({ servers: [server.address], timeoutMs: 1000 });
  assert.deepEqual(await resolver.resolve4('alias.test'), ['192.0.2.4']);
  assert.deepEqual(await resolver.resolve4('alias.test'), ['192.0.2.4']);
  assert.deepEqual(
    server.received.map(({ query }) => query.questions?.[0]?.name),
    ['alias.test', 'target.example'],
  );
  // With the SOA the chain's end is known to have no data: no second query.
  await assert.rejects(resolver.resolve4('nodata.alias.test'), {
    code: 'ENODATA',
    hostname: 'nodata.alias.test',
  });
  assert.equal(server.received.length, 3);
});
