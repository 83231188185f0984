/**
 * The unfolded values of every header field called `name` (case-insensitive) in a header section,
 * read as latin1 so that 8-bit bytes survive, trimmed. Stops at the empty line that ends the section.
 */
export function headerValues(headers: Buffer, name: string): string[] {
  const wanted = name.toLowerCase();
  const fields: string[][] = [];
  let current: string[] | undefined;
  for (const line of headers.toString('latin1').split(/\r?\n/)) {
    if (line === '') break;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      current?.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const fieldName = colon > 0 ? line.slice(0, colon).trimEnd().toLowerCase() : '';
    current = fieldName === wanted ? [line.slice(colon + 1)] : undefined;
    if (current) fields.push(current);
  }
  return fields.map((lines) => lines.join('').trim());
}
