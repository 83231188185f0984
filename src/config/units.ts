/** Parses durations ("250ms", "5s", "15m", "4h", "5d") and sizes ("64KB", "25MB") used in config. */
const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const sizeUnits: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  const factor = durationUnits[(unit ?? '').toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(amount) * factor);
}

export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  const factor = sizeUnits[(unit ?? '').toLowerCase()];
  return factor === undefined ? undefined : Math.floor(Number(amount) * factor);
}
