import { isIP } from 'node:net';
import { describeError } from '../core/errors.js';
import { isNoRecords, type Resolver } from '../dns/types.js';
import { sameIp } from '../pipeline/ip.js';
import { formatAddress, parseAddress } from './network.js';
import { ATTESTED_RULES } from './rules.js';
import { SmtpDialogue } from './smtp-dialogue.js';
import type { TrustListStore } from './store.js';
import type { Outcome, ProbeCheck, ProbeRecord } from './types.js';

/**
 * The admission probe: what can be checked from outside about a server that asks to be listed.
 * It talks SMTP to the server and tries the classic relay tricks (a foreign recipient, the
 * percent hack, bang paths, a source route, a quoted local part holding an '@'); each must be
 * refused. It checks forward-confirmed reverse DNS of the address, that a server-signature key
 * is published at <selector>._domainkey.<domain>, and that the abuse contact's domain accepts
 * mail. The remaining admission rules (no viruses, no bulk mail) the operator attests.
 */
export interface ProbeOptions {
  /** The applicant's address (an IP literal: the thing that gets listed). */
  host: string;
  port: number;
  /** The applicant's mail domain. */
  domain: string;
  /** DKIM selector of the server-signature key. */
  selector?: string;
  /** The abuse contact, an email address. */
  contact?: string;
  resolver: Resolver;
  /** Our EHLO name (default trustlist-probe.invalid). */
  heloName?: string;
  /** A domain the applicant has no reason to accept mail for (default relay-probe.invalid). */
  foreignDomain?: string;
  /** Per-step timeout (default 10 s). */
  timeoutMs?: number;
}

/** A probe's findings, ready to be recorded. */
export type ProbeResult = Omit<ProbeRecord, 'id'> & {
  /** Admission rules the probe cannot establish: the operator attests them. */
  toAttest: string[];
};

const RELAY_RULE = 'no-open-relay';

/** The relay tricks: each recipient must be refused by a server that is not an open relay. */
function relayTricks(domain: string, foreign: string, ip: string): { test: string; recipient: string }[] {
  const literal = isIP(ip) === 6 ? `[IPv6:${ip}]` : `[${ip}]`;
  return [
    { test: 'foreign recipient', recipient: `relaytest@${foreign}` },
    { test: 'percent hack', recipient: `relaytest%${foreign}@${domain}` },
    { test: 'percent hack via address literal', recipient: `relaytest%${foreign}@${literal}` },
    { test: 'bang path', recipient: `${foreign}!relaytest` },
    { test: 'bang path via the domain', recipient: `${foreign}!relaytest@${domain}` },
    { test: 'source route', recipient: `@${domain}:relaytest@${foreign}` },
    { test: "quoted local part with '@'", recipient: `"relaytest@${foreign}"@${domain}` },
  ];
}

function check(rule: string, test: string, outcome: Outcome, detail: string): ProbeCheck {
  return { rule, test, outcome, detail };
}

function replyText(reply: { code: number; lines: string[] }): string {
  return `${reply.code} ${reply.lines.join(' ').slice(0, 200)}`;
}

/** Tries one trick: MAIL, then RCPT with the trick, then RSET. Never DATA. */
async function tryTrick(
  dialogue: SmtpDialogue,
  mailFrom: string,
  trick: { test: string; recipient: string },
): Promise<ProbeCheck> {
  const mail = await dialogue.command(`MAIL FROM:<${mailFrom}>`);
  if (mail.code >= 300) {
    await dialogue.command('RSET');
    return check(RELAY_RULE, trick.test, 'inconclusive', `MAIL FROM refused: ${replyText(mail)}`);
  }
  const rcpt = await dialogue.command(`RCPT TO:<${trick.recipient}>`);
  await dialogue.command('RSET');
  if (rcpt.code >= 500) return check(RELAY_RULE, trick.test, 'pass', `refused: ${replyText(rcpt)}`);
  if (rcpt.code >= 400) return check(RELAY_RULE, trick.test, 'inconclusive', `deferred: ${replyText(rcpt)}`);
  return check(RELAY_RULE, trick.test, 'fail', `accepted <${trick.recipient}>: ${replyText(rcpt)}`);
}

/** The relay tests over one SMTP session; the transcript is the evidence. */
async function relayChecks(
  options: ProbeOptions,
  ip: string,
): Promise<{ checks: ProbeCheck[]; transcript: string[] }> {
  const helo = options.heloName ?? 'trustlist-probe.invalid';
  const foreign = options.foreignDomain ?? 'relay-probe.invalid';
  const tricks = relayTricks(options.domain, foreign, ip);
  let dialogue: SmtpDialogue;
  try {
    dialogue = await SmtpDialogue.open(ip, options.port, options.timeoutMs ?? 10_000);
  } catch (error) {
    const why = `could not connect: ${describeError(error)}`;
    return {
      checks: tricks.map((trick) => check(RELAY_RULE, trick.test, 'inconclusive', why)),
      transcript: [`# ${why}`],
    };
  }
  const checks: ProbeCheck[] = [];
  try {
    const greeting = await dialogue.read();
    if (greeting.code !== 220) throw new Error(`session refused: ${replyText(greeting)}`);
    const ehlo = await dialogue.command(`EHLO ${helo}`);
    if (ehlo.code !== 250) {
      const heloReply = await dialogue.command(`HELO ${helo}`);
      if (heloReply.code !== 250) throw new Error(`HELO refused: ${replyText(heloReply)}`);
    }
    for (const trick of tricks) checks.push(await tryTrick(dialogue, `postmaster@${helo}`, trick));
  } catch (error) {
    const why = describeError(error);
    dialogue.note(`# ${why}`);
    for (const trick of tricks.slice(checks.length))
      checks.push(check(RELAY_RULE, trick.test, 'inconclusive', why));
  } finally {
    await dialogue.close();
  }
  return { checks, transcript: dialogue.transcript };
}

/** DNS failures other than "no such records" leave a check undecided. */
function dnsTrouble(rule: string, test: string, error: unknown): ProbeCheck {
  return check(rule, test, 'inconclusive', `DNS lookup failed: ${describeError(error)}`);
}

/** Forward-confirmed reverse DNS: a PTR name of the address resolves back to it. */
async function reverseDnsCheck(resolver: Resolver, ip: string): Promise<ProbeCheck> {
  const rule = 'valid-reverse-dns';
  const test = 'forward-confirmed reverse DNS';
  let names: string[];
  try {
    names = await resolver.reverse(ip);
  } catch (error) {
    return isNoRecords(error)
      ? check(rule, test, 'fail', `no PTR record for ${ip}`)
      : dnsTrouble(rule, test, error);
  }
  const family = isIP(ip);
  for (const name of names.slice(0, 10)) {
    try {
      const addresses = family === 6 ? await resolver.resolve6(name) : await resolver.resolve4(name);
      if (addresses.some((address) => sameIp(address, ip))) {
        return check(rule, test, 'pass', `${ip} -> ${name} -> ${ip}`);
      }
    } catch (error) {
      if (!isNoRecords(error)) return dnsTrouble(rule, test, error);
    }
  }
  return check(rule, test, 'fail', `PTR ${names.join(', ')} does not resolve back to ${ip}`);
}

/** The server-signature key: a DKIM key record (with a non-empty p=) at <selector>._domainkey.<domain>. */
async function serverKeyCheck(
  resolver: Resolver,
  domain: string,
  selector: string | undefined,
): Promise<ProbeCheck> {
  const rule = 'server-key-published';
  if (!selector) return check(rule, 'DKIM key record', 'fail', 'no selector given');
  const name = `${selector}._domainkey.${domain}`;
  const test = `DKIM key at ${name}`;
  try {
    const records = (await resolver.resolveTxt(name)).map((parts) => parts.join(''));
    const key = records.find((text) => /(?:^|;)\s*p\s*=\s*[A-Za-z0-9+/]/.test(text));
    if (key) return check(rule, test, 'pass', key.slice(0, 120));
    return check(rule, test, 'fail', records.length === 0 ? 'no TXT record' : 'TXT has no public key (p=)');
  } catch (error) {
    return isNoRecords(error)
      ? check(rule, test, 'fail', `no TXT record at ${name}`)
      : dnsTrouble(rule, test, error);
  }
}

/** The abuse contact: an address whose domain accepts mail (MX, or A/AAAA as implicit MX; no null MX). */
async function abuseContactCheck(resolver: Resolver, contact: string | undefined): Promise<ProbeCheck> {
  const rule = 'abuse-contact';
  const match = /^[^@\s]+@([^@\s]+)$/.exec(contact?.trim() ?? '');
  if (!match?.[1])
    return check(
      rule,
      'abuse contact',
      'fail',
      contact ? `'${contact}' is not an email address` : 'no contact given',
    );
  const domain = match[1];
  const test = `mail for ${contact}`;
  try {
    const exchanges = await resolver.resolveMx(domain);
    if (exchanges.length === 1 && (exchanges[0]?.exchange ?? '').replace(/\.$/, '') === '') {
      return check(rule, test, 'fail', `${domain} publishes a null MX (RFC 7505): it accepts no mail`);
    }
    if (exchanges.length > 0)
      return check(rule, test, 'pass', `MX ${exchanges.map((mx) => mx.exchange).join(', ')}`);
  } catch (error) {
    if (!isNoRecords(error)) return dnsTrouble(rule, test, error);
  }
  for (const lookup of [() => resolver.resolve4(domain), () => resolver.resolve6(domain)]) {
    try {
      if ((await lookup()).length > 0)
        return check(rule, test, 'pass', `no MX; ${domain} has an address (implicit MX)`);
    } catch (error) {
      if (!isNoRecords(error)) return dnsTrouble(rule, test, error);
    }
  }
  return check(rule, test, 'fail', `${domain} has neither MX nor address records`);
}

/** Probes an applicant; passes only when every probed check passes. */
export async function probeApplicant(options: ProbeOptions): Promise<ProbeResult> {
  const address = parseAddress(options.host);
  if (!address) throw new Error(`probe target must be an IP address: '${options.host}'`);
  const ip = formatAddress(address);
  const startedAt = new Date().toISOString();
  const [relay, ...dnsChecks] = await Promise.all([
    relayChecks(options, ip),
    reverseDnsCheck(options.resolver, ip),
    serverKeyCheck(options.resolver, options.domain, options.selector),
    abuseContactCheck(options.resolver, options.contact),
  ]);
  const checks = [...relay.checks, ...dnsChecks];
  return {
    ip,
    port: options.port,
    domain: options.domain,
    startedAt,
    passed: checks.every((item) => item.outcome === 'pass'),
    checks,
    transcript: relay.transcript,
    toAttest: [...ATTESTED_RULES],
  };
}

/** Keeps a probe's evidence in the store. */
export function recordProbe(store: TrustListStore, result: ProbeResult, actor: string): ProbeRecord {
  const { toAttest: _toAttest, ...record } = result;
  return store.recordProbe(record, actor);
}
