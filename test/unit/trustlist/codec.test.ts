import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DecodedPacket, decode, encode, type Packet } from 'dns-packet';
import { dnsxlName } from '../../../src/checks/dnsbl/dnsxl.js';
import { answerQuery } from '../../../src/dns/respond.js';
import { formatAddress } from '../../../src/trustlist/network.js';
import { ListState, zoneSettings } from '../../../src/trustlist/serve.js';
import { fillVariedList, tempStore } from './fixtures.js';

const ZONE = 'trust.test';

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) & 0x7fffffff;
    return state;
  };
}

function query(
  name: string,
  type: 'A' | 'TXT',
  options: { edns?: boolean; id?: number; rd?: boolean } = {},
): Buffer {
  const packet: Packet = {
    type: 'query',
    id: options.id ?? 4242,
    flags: options.rd === false ? 0 : 0x100,
    questions: [{ name, type, class: 'IN' }],
  };
  if (options.edns) {
    packet.additionals = [
      {
        name: '.',
        type: 'OPT',
        udpPayloadSize: 4096,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ];
  }
  return encode(packet);
}

/** A decoded response in comparable form: names in lower case, TXT as text. */
function comparable(bytes: Buffer): unknown {
  const packet: DecodedPacket = decode(bytes);
  const records = (list: DecodedPacket['answers']) =>
    (list ?? []).map((record) => {
      const copy = { ...record, name: record.name.toLowerCase() } as Record<string, unknown>;
      if (record.type === 'TXT') copy.data = (record.data as Buffer[]).map((part) => part.toString('latin1'));
      return copy;
    });
  return {
    id: packet.id,
    flags: packet.flags,
    questions: packet.questions,
    answers: records(packet.answers),
    authorities: records(packet.authorities),
    additionals: records(packet.additionals),
  };
}

function randomAddresses(count: number): string[] {
  const random = seeded(99);
  const near = [
    '10.0.0.1',
    '10.1.0.9',
    '10.1.2.3',
    '10.1.2.130',
    '10.1.2.200',
    '192.0.2.44',
    '198.51.100.7',
    '203.0.113.5',
  ];
  const addresses = [
    '127.0.0.2',
    '127.0.0.1',
    '::ffff:7f00:2',
    '::ffff:7f00:1',
    '2001:db8:1::5',
    '2001:db8:1::6',
    '2001:db8:2::1',
    '2001:db9::1',
  ];
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) {
      const base = near[random() % near.length]?.split('.').map(Number) ?? [10, 0, 0, 1];
      base[3] = random() & 0xff;
      if (i % 2) base[2] = random() & 0xff;
      addresses.push(base.join('.'));
    } else if (i % 3 === 1) {
      addresses.push([random() % 256, random() % 256, random() % 256, random() % 256].join('.'));
    } else {
      const groups = [0x2001, 0xdb8, random() % 3, random() & 0xffff, 0, 0, 0, random() % 8];
      addresses.push(
        formatAddress({ family: 6, bytes: Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff])) }),
      );
    }
  }
  return addresses;
}

test('the hand codec answers exactly what the dns-packet path answers', async (t) => {
  const { store } = await tempStore(t);
  fillVariedList(store);
  const state = new ListState(store, zoneSettings({ zone: ZONE, nameservers: ['ns1.trust.test'] }));
  let compared = 0;
  const random = seeded(5);
  for (const address of randomAddresses(3000)) {
    for (const type of ['A', 'TXT'] as const) {
      const name = dnsxlName(address, ZONE);
      // Resolvers may randomise case (DNS 0x20): the zone and hex nibbles must match in any case.
      const message = query(random() % 4 === 0 ? name.toUpperCase() : name, type, {
        edns: random() % 2 === 0,
        id: random() & 0xffff,
        rd: random() % 2 === 0,
      });
      const fast = state.responder.respond(message);
      assert.ok(fast, `hand codec should answer ${address} ${type}`);
      const general = answerQuery(message, state.zones, 'udp').response;
      assert.ok(general);
      assert.deepEqual(comparable(fast), comparable(general), `${address} ${type}`);
      compared++;
    }
  }
  assert.equal(compared, 2 * (3000 + 8));
});

test('answers carry the trust code, the expanded text, NXDOMAIN and NODATA as they should', async (t) => {
  const { store } = await tempStore(t);
  fillVariedList(store);
  const state = new ListState(store, zoneSettings({ zone: ZONE }));
  const ask = (address: string, type: 'A' | 'TXT') => {
    const fast = state.responder.respond(query(dnsxlName(address, ZONE), type));
    assert.ok(fast);
    const packet = decode(fast);
    const data = (packet.answers ?? []).map((record) =>
      record.type === 'TXT'
        ? (record.data as Buffer[]).map((part) => part.toString()).join('')
        : String('data' in record ? record.data : ''),
    );
    return {
      rcode: (packet.flags ?? 0) & 0xf,
      aa: packet.flag_aa,
      data,
      authority: packet.authorities?.[0]?.type,
    };
  };
  assert.deepEqual(ask('10.1.2.3', 'A'), { rcode: 0, aa: true, data: ['127.0.6.3'], authority: undefined });
  assert.deepEqual(ask('10.1.2.3', 'TXT').data, ['Dollar $ sign and address 10.1.2.3 here']);
  assert.deepEqual(ask('10.200.0.1', 'TXT').data, ['Big ISP, see https://trust.test/lookup?10.200.0.1']);
  assert.deepEqual(ask('10.1.9.9', 'TXT'), { rcode: 0, aa: true, data: [], authority: 'SOA' }); // listed, no text
  assert.deepEqual(ask('10.1.2.200', 'A'), { rcode: 3, aa: true, data: [], authority: 'SOA' }); // excluded
  assert.deepEqual(ask('198.51.100.7', 'A'), { rcode: 0, aa: true, data: [], authority: 'SOA' }); // delisted
  assert.match(ask('198.51.100.7', 'TXT').data[0] ?? '', /^Delisted \d{4}-\d\d-\d\d: three complaints$/);
  assert.deepEqual(ask('127.0.0.2', 'A').data, ['127.0.0.2']);
  assert.deepEqual(ask('127.0.0.2', 'TXT').data, ['RFC 5782 test point']);
  assert.equal(ask('127.0.0.1', 'A').rcode, 3);
  assert.deepEqual(ask('::ffff:7f00:2', 'A').data, ['127.0.0.2']);
  assert.equal(ask('::ffff:7f00:1', 'A').rcode, 3);
  assert.equal(ask('::1', 'A').rcode, 3);
  assert.deepEqual(ask('2001:db8:ffff::1', 'TXT').data, ['IPv6 ISP 2001:db8:ffff::1']);
  assert.deepEqual(ask('2001:db8:1::9', 'A').data, ['127.0.6.1']);
  assert.equal(ask('2001:db8:1::5', 'A').rcode, 3);
});

test('queries of any other shape are left to the general path', async (t) => {
  const { store } = await tempStore(t);
  const state = new ListState(store, zoneSettings({ zone: ZONE }));
  const name = `2.0.0.127.${ZONE}`;
  const withType = (type: 'AAAA' | 'SOA' | 'MX', qname = name) =>
    encode({ type: 'query', id: 1, questions: [{ name: qname, type, class: 'IN' }] });
  const ednsV1 = encode({
    type: 'query',
    id: 1,
    questions: [{ name, type: 'A', class: 'IN' }],
    additionals: [
      {
        name: '.',
        type: 'OPT',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 1,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  });
  const response = query(name, 'A');
  response[2] = (response[2] ?? 0) | 0x80;
  const trailing = Buffer.concat([query(name, 'A'), Buffer.of(0)]);
  const others = [
    withType('AAAA'),
    withType('SOA', ZONE),
    withType('MX'),
    query(`0.0.127.${ZONE}`, 'A'),
    query(`02.0.0.127.${ZONE}`, 'A'),
    query(`2.0.0.127.other.test`, 'A'),
    query(`2.0.0.127.x${ZONE}`, 'A'),
    ednsV1,
    response,
    trailing,
    Buffer.alloc(5),
  ];
  for (const message of others) assert.equal(state.responder.respond(message), undefined);
  // ... and that path still answers them.
  const apex = answerQuery(withType('SOA', ZONE), state.zones, 'udp').response;
  assert.ok(apex);
  assert.equal(decode(apex).answers?.[0]?.type, 'SOA');
  const partial = answerQuery(query(`0.0.127.${ZONE}`, 'A'), state.zones, 'udp').response;
  assert.ok(partial);
  assert.equal((decode(partial).flags ?? 0) & 0xf, 0, 'a partial address name is NODATA, not NXDOMAIN');
});
