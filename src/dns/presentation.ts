import type { ZoneRecord } from './records.js';

/** Characters that end a word or mean something at the start of one in a master file. */
const SPECIAL_IN_NAMES = new Set([' ', '"', '(', ')', ';', '\\', '.', '@', '$']);

function escapeByte(code: number): string {
  return `\\${String(code).padStart(3, '0')}`;
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

function escapeLabel(label: string): string {
  let out = '';
  for (const char of label) {
    const code = char.charCodeAt(0);
    if (isControl(code) || char === ' ') out += escapeByte(code);
    else if (SPECIAL_IN_NAMES.has(char)) out += `\\${char}`;
    else out += char;
  }
  return out;
}

/** A name in master-file form: absolute (trailing dot), special characters escaped; '' is '.'. */
export function formatName(name: string): string {
  if (name === '') return '.';
  return `${name.split('.').map(escapeLabel).join('.')}.`;
}

/** A character-string in quotes with '"', '\' and control characters escaped. */
export function quoteText(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (isControl(code)) out += escapeByte(code);
    else out += char;
  }
  return `${out}"`;
}

function formatData(record: ZoneRecord): string {
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return record.data;
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return formatName(record.data);
    case 'MX':
      return `${record.data.preference} ${formatName(record.data.exchange)}`;
    case 'TXT':
      return record.data.map(quoteText).join(' ');
    case 'SRV': {
      const { priority, weight, port, target } = record.data;
      return `${priority} ${weight} ${port} ${formatName(target)}`;
    }
    case 'SOA': {
      const { mname, rname, serial, refresh, retry, expire, minimum } = record.data;
      return `${formatName(mname)} ${formatName(rname)} ${serial} ${refresh} ${retry} ${expire} ${minimum}`;
    }
  }
}

/** One record as a master-file line: `name. ttl IN TYPE data` (parseZoneFile reads it back). */
export function formatRecord(record: ZoneRecord): string {
  return `${formatName(record.name)} ${record.ttl} IN ${record.type} ${formatData(record)}`;
}
