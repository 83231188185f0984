import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Network, parseNetwork } from '../../../src/trustlist/network.js';
import { type Block, flattenIpv4, Ipv6Trie, lookupIpv4, NOT_LISTED } from '../../../src/trustlist/ranges.js';

function net(text: string): Network {
  const parsed = parseNetwork(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.network;
}

/** Longest prefix match the slow way, to check the fast structures against. */
function bruteForce(blocks: Block[], bytes: Uint8Array): number {
  let best: Block | undefined;
  for (const block of blocks) {
    if (block.network.family !== (bytes.length === 4 ? 4 : 6)) continue;
    let inside = true;
    for (let bit = 0; bit < block.network.prefix && inside; bit++) {
      const mask = 0x80 >> (bit & 7);
      inside = ((bytes[bit >> 3] ?? 0) & mask) === ((block.network.bytes[bit >> 3] ?? 0) & mask);
    }
    if (inside && (!best || block.network.prefix > best.network.prefix)) best = block;
  }
  return best ? best.value : NOT_LISTED;
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) & 0x7fffffff;
    return state;
  };
}

test('flattened IPv4 ranges answer like a longest-prefix match, exclusions included', () => {
  const random = seeded(7);
  const blocks: Block[] = [];
  const seen = new Set<string>();
  // Few first octets so that blocks nest often.
  while (blocks.length < 400) {
    const prefix = [8, 12, 16, 20, 23, 24, 26, 30, 32][random() % 9] ?? 32;
    const bytes = Uint8Array.of(10 + (random() % 3), random() % 4, random() & 0xff, random() & 0xff);
    const cidr = net(`${maskText(bytes, prefix)}/${prefix}`);
    if (seen.has(cidr.text)) continue;
    seen.add(cidr.text);
    blocks.push({ network: cidr, value: random() % 5 === 0 ? NOT_LISTED : blocks.length });
  }
  const ranges = flattenIpv4(blocks);
  for (let i = 1; i < ranges.starts.length; i++) {
    assert.ok((ranges.starts[i] ?? 0) > (ranges.starts[i - 1] ?? 0), 'starts strictly increase');
    assert.notEqual(ranges.values[i], ranges.values[i - 1], 'neighbours differ (merged)');
  }
  for (let i = 0; i < 20_000; i++) {
    const bytes = Uint8Array.of(9 + (random() % 4), random() % 5, random() & 0xff, random() & 0xff);
    const number =
      (bytes[0] ?? 0) * 2 ** 24 + (bytes[1] ?? 0) * 2 ** 16 + (bytes[2] ?? 0) * 256 + (bytes[3] ?? 0);
    assert.equal(lookupIpv4(ranges, number), bruteForce(blocks, bytes), bytes.join('.'));
  }
});

function maskText(bytes: Uint8Array, prefix: number): string {
  return [...bytes]
    .map((byte, i) => byte & ((0xff00 >> Math.min(8, Math.max(0, prefix - i * 8))) & 0xff))
    .join('.');
}

test('the edges of the address space are handled', () => {
  const ranges = flattenIpv4([
    { network: net('0.0.0.0/0'), value: 1 },
    { network: net('255.255.255.255/32'), value: 2 },
    { network: net('0.0.0.0/32'), value: NOT_LISTED },
  ]);
  assert.equal(lookupIpv4(ranges, 0), NOT_LISTED);
  assert.equal(lookupIpv4(ranges, 1), 1);
  assert.equal(lookupIpv4(ranges, 0xfffffffe), 1);
  assert.equal(lookupIpv4(ranges, 0xffffffff), 2);
  assert.equal(lookupIpv4(flattenIpv4([]), 12345), NOT_LISTED);
});

test('the IPv6 trie answers like a longest-prefix match', () => {
  const blocks: Block[] = [
    { network: net('2001:db8::/32'), value: 1 },
    { network: net('2001:db8:1::/48'), value: 2 },
    { network: net('2001:db8:1::5/128'), value: NOT_LISTED },
    { network: net('2001:db8:1:8000::/49'), value: 3 },
  ];
  const trie = Ipv6Trie.from(blocks);
  const cases = ['2001:db8::1', '2001:db8:1::1', '2001:db8:1::5', '2001:db8:1:8000::1', '2001:db9::1', '::1'];
  for (const text of cases) {
    const bytes = net(text).bytes;
    assert.equal(trie.lookup(bytes), bruteForce(blocks, bytes), text);
  }
  assert.equal(trie.lookup(net('2001:db8:1::5').bytes), NOT_LISTED);
  assert.equal(trie.lookup(net('2001:db8:1:8000::1').bytes), 3);
});
