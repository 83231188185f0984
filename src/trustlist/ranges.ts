import { ipv4Bounds, type Prefix } from './network.js';

/**
 * Longest-prefix match over CIDR blocks. IPv4 blocks are flattened into disjoint address ranges
 * (sorted starts, each with the value of the most specific block covering it), so a lookup is a
 * binary search over a Uint32Array; IPv6 blocks go into a binary trie. Values are small integers:
 * a slot number, or NOT_LISTED for exclusions and gaps.
 */

/** The value of addresses no block lists (gaps, and exclusions that punch holes). */
export const NOT_LISTED = -1;
/** Trie nodes without a block of their own. */
const NO_VALUE = -2;

/** A block with its value. */
export interface Block {
  network: Prefix;
  value: number;
}

/** Disjoint IPv4 ranges: range i covers starts[i] .. starts[i+1]-1 (the last one up to 2^32-1). */
export interface Ipv4Ranges {
  starts: Uint32Array;
  values: Int32Array;
}

interface Open {
  last: number;
  value: number;
}

/** Flattens IPv4 blocks (nested or disjoint, never two with the same network) into ranges. */
export function flattenIpv4(blocks: readonly Block[]): Ipv4Ranges {
  // Sort on one number per block, first address * 64 + prefix (exact in a double), natively:
  // a typed array sort is several times faster than sorting objects with a comparator.
  const blockValue = new Map<number, number>();
  const keys: number[] = [];
  for (const block of blocks) {
    if (block.network.family !== 4) continue;
    const key = ipv4Bounds(block.network).first * 64 + block.network.prefix;
    keys.push(key);
    blockValue.set(key, block.value);
  }
  const sorted = Float64Array.from(keys).sort();
  const starts: number[] = [];
  const values: number[] = [];
  const emit = (from: number, value: number): void => {
    if (values.length > 0 && values[values.length - 1] === value) return;
    if (starts.length > 0 && starts[starts.length - 1] === from) {
      // The previous range would be empty: overwrite it, merging with the one before if equal.
      values[values.length - 1] = value;
      if (values.length > 1 && values[values.length - 2] === value) {
        starts.pop();
        values.pop();
      }
      return;
    }
    starts.push(from);
    values.push(value);
  };
  const stack: Open[] = [];
  emit(0, NOT_LISTED);
  for (const key of sorted) {
    const prefix = key % 64;
    const first = (key - prefix) / 64;
    const value = blockValue.get(key) ?? NOT_LISTED;
    // Blocks that end before this one starts are done: what covered them takes over again.
    for (let top = stack.at(-1); top !== undefined && top.last < first; top = stack.at(-1)) {
      stack.pop();
      emit(top.last + 1, stack.at(-1)?.value ?? NOT_LISTED);
    }
    emit(first, value);
    stack.push({ last: first + 2 ** (32 - prefix) - 1, value });
  }
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (top.last < 0xffffffff) emit(top.last + 1, stack.at(-1)?.value ?? NOT_LISTED);
  }
  return { starts: Uint32Array.from(starts), values: Int32Array.from(values) };
}

/** The value for an IPv4 address (unsigned 32-bit number). */
export function lookupIpv4(ranges: Ipv4Ranges, address: number): number {
  const { starts, values } = ranges;
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if ((starts[middle] as number) <= address) low = middle;
    else high = middle - 1;
  }
  return values[low] ?? NOT_LISTED;
}

/** A binary trie over IPv6 prefixes; nodes live in flat arrays. */
export class Ipv6Trie {
  private zero: number[] = [-1];
  private one: number[] = [-1];
  private value: number[] = [NO_VALUE];

  /** Builds a trie from the IPv6 blocks. */
  static from(blocks: readonly Block[]): Ipv6Trie {
    const trie = new Ipv6Trie();
    for (const block of blocks) if (block.network.family === 6) trie.insert(block.network, block.value);
    return trie;
  }

  insert(network: Prefix, value: number): void {
    let node = 0;
    for (let bit = 0; bit < network.prefix; bit++) {
      const branch = ((network.bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1 ? this.one : this.zero;
      let next = branch[node] ?? -1;
      if (next === -1) {
        next = this.value.length;
        this.zero.push(-1);
        this.one.push(-1);
        this.value.push(NO_VALUE);
        branch[node] = next;
      }
      node = next;
    }
    this.value[node] = value;
  }

  /** The value of the longest prefix holding the 16-byte address. */
  lookup(bytes: Uint8Array): number {
    let node = 0;
    let found = this.value[0] ?? NO_VALUE;
    for (let bit = 0; bit < 128; bit++) {
      const branch = ((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1 ? this.one : this.zero;
      const next = branch[node] ?? -1;
      if (next === -1) break;
      node = next;
      const here = this.value[node] ?? NO_VALUE;
      if (here !== NO_VALUE) found = here;
    }
    return found === NO_VALUE ? NOT_LISTED : found;
  }
}
