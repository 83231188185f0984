/** One header field of a stored message, unfolded, as it was received. */
export interface HeaderField {
  name: string;
  value: string;
}

/** The header block is read from at most this many bytes: enough for any real message's headers. */
const MAX_HEADER_BYTES = 256 * 1024;

/** The header fields of a message (RFC 5322 section 2.2: continuation lines unfolded). */
export function parseHeaders(body: Buffer): HeaderField[] {
  const text = body.subarray(0, MAX_HEADER_BYTES).toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** The values of every field with this name (case-insensitive), in message order. */
export function headerValues(fields: HeaderField[], name: string): string[] {
  const wanted = name.toLowerCase();
  return fields.filter((field) => field.name.toLowerCase() === wanted).map((field) => field.value);
}
