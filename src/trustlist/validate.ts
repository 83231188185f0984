import { OutpostError } from '../core/errors.js';
import { contains, formatAddress, type Network, parseAddress, parseNetwork } from './network.js';
import { textProblem } from './text.js';
import type { EntryChanges, NewEntry } from './types.js';

/** Input checks shared by the store, the HTTP API and the importers; failures are BAD_REQUEST. */

const MAX_CONTACT = 320;
const MAX_REASON = 200;
const LOOPBACK_V4 = parseNetworkOrThrow('127.0.0.0/8');
const MAPPED_V4 = parseNetworkOrThrow('::ffff:0:0/96');
const LOOPBACK_V6 = parseNetworkOrThrow('::1/128');

function parseNetworkOrThrow(text: string): Network {
  const parsed = parseNetwork(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.network;
}

function bad(detail: string): OutpostError {
  return new OutpostError('BAD_REQUEST', detail);
}

/** A network an operator may list: valid, not loopback (the RFC 5782 test points live there), not mapped. */
export function listableNetwork(text: string): Network {
  const parsed = parseNetwork(text);
  if (!parsed.ok) throw bad(parsed.problem);
  const { network } = parsed;
  if (contains(LOOPBACK_V4, network) && network.prefix >= 8) {
    throw bad(`${network.text} is loopback; 127.0.0.2 and 127.0.0.1 are the RFC 5782 test points`);
  }
  if (contains(LOOPBACK_V6, network) && network.prefix === 128) throw bad('::1 is loopback');
  if (contains(MAPPED_V4, network) && network.prefix >= 96) {
    throw bad(`${network.text} is IPv4-mapped; list the IPv4 network instead`);
  }
  return network;
}

/** The canonical text of a network named in a request (any valid spelling). */
export function canonicalNetwork(text: string): string {
  const parsed = parseNetwork(text);
  if (!parsed.ok) throw bad(parsed.problem);
  return parsed.network.text;
}

/** The canonical text of an address named in a request. */
export function canonicalAddress(text: string): string {
  const address = parseAddress(text.trim());
  if (!address) throw bad(`'${text}' is not an IP address`);
  return formatAddress(address);
}

function checkCategory(category: unknown): number {
  if (typeof category !== 'number' || !Number.isInteger(category) || category < 2 || category > 15) {
    throw bad('category must be a whole number 2..15');
  }
  return category;
}

function checkTrust(trust: unknown): number {
  if (typeof trust !== 'number' || !Number.isInteger(trust) || trust < 0 || trust > 3) {
    throw bad('trust must be 0 (none), 1 (low), 2 (medium) or 3 (high)');
  }
  return trust;
}

function checkText(text: string): string {
  const problem = textProblem(text);
  if (problem) throw bad(problem);
  return text;
}

function checkContact(contact: string): string {
  const trimmed = contact.trim();
  if (trimmed.length > MAX_CONTACT || /[\r\n]/.test(trimmed)) throw bad('contact must be one line');
  return trimmed;
}

/** A reason is required for delisting and exclusion; one line, at most 200 characters. */
export function checkReason(reason: string | undefined): string {
  const trimmed = (reason ?? '').trim();
  if (trimmed === '') throw bad('a reason is required');
  if (trimmed.length > MAX_REASON || !/^[\x20-\x7e]+$/.test(trimmed)) {
    throw bad(`reason must be one line of printable ASCII, at most ${MAX_REASON} characters`);
  }
  return trimmed;
}

/** The values of a new entry, checked; exclusions carry category 0 and trust 0. */
export function checkNewEntry(input: NewEntry): {
  network: Network;
  category: number;
  trust: number;
  text: string;
  contact: string;
  reason: string;
} {
  const network = listableNetwork(input.network);
  const contact = checkContact(input.contact ?? '');
  if (input.exclude) {
    return { network, category: 0, trust: 0, text: '', contact, reason: checkReason(input.reason) };
  }
  return {
    network,
    category: checkCategory(input.category),
    trust: checkTrust(input.trust),
    text: checkText(input.text ?? ''),
    contact,
    reason: '',
  };
}

/** The changes of an update, checked (absent fields stay as they are). */
export function checkChanges(changes: EntryChanges): EntryChanges {
  const checked: EntryChanges = {};
  if (changes.category !== undefined) checked.category = checkCategory(changes.category);
  if (changes.trust !== undefined) checked.trust = checkTrust(changes.trust);
  if (changes.text !== undefined) checked.text = checkText(changes.text);
  if (changes.contact !== undefined) checked.contact = checkContact(changes.contact);
  return checked;
}
