import { ipv4RangeToNetworks, ipv4Text, parseNetwork } from './network.js';
import { type Block, flattenIpv4, NOT_LISTED } from './ranges.js';
import type { RbldnsdFormat } from './rbldnsd.js';
import { TEST_POINT_TEXT, TEST_POINTS } from './served.js';
import type { Entry } from './types.js';

/**
 * Writing a list as an rbldnsd dataset that answers every address the way outpost does (same A,
 * same TXT): ip4trie and ip6trie keep the CIDR entries (longest prefix wins in both); ip4set gets
 * the list flattened into disjoint ranges, since its own precedence differs. rbldnsd cannot serve
 * a delisted entry's reason, so delisted entries become exclusions (NXDOMAIN instead of NODATA).
 */

/** The dataset text, how many entries went in, and which did not (the other address family). */
export interface RbldnsdExport {
  text: string;
  written: number;
  skipped: number;
}

function value(entry: Entry): string {
  return `:127.0.${entry.category}.${entry.trust}:${entry.text}`;
}

/** One entry as a trie line; excluded and delisted entries become `!` exclusions with a comment. */
function trieLine(entry: Entry): string {
  if (entry.status === 'listed') return `${entry.network} ${value(entry)}`;
  const why = entry.status === 'delisted' ? `delisted ${entry.updatedAt.slice(0, 10)}` : 'excluded';
  return `!${entry.network} # ${why}${entry.reason ? `: ${entry.reason}` : ''}`;
}

function testPointLines(family: 4 | 6): string[] {
  const listed = family === 4 ? TEST_POINTS.listed[0] : TEST_POINTS.listed[1];
  const unlisted = family === 4 ? TEST_POINTS.unlisted[0] : TEST_POINTS.unlisted[1];
  return ['# RFC 5782 section 5 test points', `${listed} :127.0.0.2:${TEST_POINT_TEXT}`, `!${unlisted}`];
}

/** ip4set lines: the flattened ranges that list something. */
function setLines(entries: Entry[]): string[] {
  const values: string[] = [];
  const blocks: Block[] = [];
  const networkOf = (text: string) => {
    const parsed = parseNetwork(text);
    if (!parsed.ok) throw new Error(parsed.problem);
    return parsed.network;
  };
  for (const entry of entries) {
    const listed = entry.status === 'listed';
    blocks.push({ network: networkOf(entry.network), value: listed ? values.length : NOT_LISTED });
    if (listed) values.push(value(entry));
  }
  values.push(`:127.0.0.2:${TEST_POINT_TEXT}`);
  blocks.push({ network: networkOf(TEST_POINTS.listed[0]), value: values.length - 1 });
  blocks.push({ network: networkOf(TEST_POINTS.unlisted[0]), value: NOT_LISTED });
  const { starts, values: rangeValues } = flattenIpv4(blocks);
  const lines: string[] = [];
  for (let i = 0; i < starts.length; i++) {
    const slot = rangeValues[i] ?? NOT_LISTED;
    if (slot === NOT_LISTED) continue;
    const first = starts[i] ?? 0;
    const last = i + 1 < starts.length ? (starts[i + 1] ?? 0) - 1 : 0xffffffff;
    const blocksOfRange = ipv4RangeToNetworks(first, last);
    const range =
      blocksOfRange.length === 1 && blocksOfRange[0]
        ? blocksOfRange[0].text
        : `${ipv4Text(first)}-${ipv4Text(last)}`;
    lines.push(`${range} ${values[slot]}`);
  }
  return lines;
}

/** The list (all entries, any status) as an rbldnsd dataset of the given format. */
export function exportRbldnsd(entries: readonly Entry[], format: RbldnsdFormat): RbldnsdExport {
  const family = format === 'ip6trie' ? 6 : 4;
  const mine = entries.filter((entry) => entry.family === family);
  const header = [
    `# outpost trust list, rbldnsd ${format} dataset: ${mine.length} entries`,
    '# A 127.0.<category>.<trust>; TXT "$" is the address asked about',
  ];
  const body = format === 'ip4set' ? setLines(mine) : [...mine.map(trieLine), ...testPointLines(family)];
  return {
    text: `${[...header, ...body].join('\n')}\n`,
    written: mine.length,
    skipped: entries.length - mine.length,
  };
}
