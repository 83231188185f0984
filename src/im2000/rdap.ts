// RDAP (RFC 9083) domain lookups: only the registration date, for the notice policy's age rule.
import { normalizeName } from '../dns/names.js';

const RDAP_TIMEOUT_MS = 5000;

function registrationEvent(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null || !('events' in body) || !Array.isArray(body.events)) {
    return undefined;
  }
  for (const event of body.events as unknown[]) {
    if (typeof event !== 'object' || event === null) continue;
    if (!('eventAction' in event) || event.eventAction !== 'registration') continue;
    if (!('eventDate' in event) || typeof event.eventDate !== 'string') continue;
    const time = Date.parse(event.eventDate);
    if (!Number.isNaN(time)) return time;
  }
  return undefined;
}

/**
 * The registration time of a domain (ms since 1970); undefined when the server does not know the
 * domain (404) or gives no registration event. Network errors and other statuses throw.
 */
export async function registrationDate(baseUrl: string, domain: string): Promise<number | undefined> {
  const url = new URL(`domain/${encodeURIComponent(normalizeName(domain))}`, baseUrl.replace(/\/?$/, '/'));
  const response = await fetch(url, {
    headers: { accept: 'application/rdap+json' },
    signal: AbortSignal.timeout(RDAP_TIMEOUT_MS),
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`RDAP ${url}: HTTP ${response.status}`);
  return registrationEvent(await response.json());
}
