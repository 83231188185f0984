// Where a destination's mail goes: the smarthost, or the MX hosts of its domain in RFC 5321 order,
// or a final answer (null MX, no such domain, DNS trouble).
import { isIP } from 'node:net';
import { type Reply, reply } from '../../core/reply.js';
import type { SmtpTargetOptions } from './options.js';
import { type RouteHost, routeFor } from './route.js';
import type { TlsPolicy } from './session.js';

/** How to reach a destination: hosts in order and how to talk to them. */
export interface Plan {
  hosts: RouteHost[];
  port: number;
  tls: TlsPolicy;
  implicitTls: boolean;
  credentials?: { username: string; password: string };
}

/** The final word for a destination that cannot be tried (null MX, no such domain, DNS down). */
export interface Unreachable {
  status: 'failed' | 'deferred';
  reply: Reply;
}

/** The smarthost, or the destination's MX hosts in RFC 5321 order, or the final answer when it cannot be reached. */
export async function planDestination(
  destination: string,
  tls: TlsPolicy | undefined,
  options: Pick<SmtpTargetOptions, 'smarthost' | 'resolver' | 'random'> & { port: number },
): Promise<Plan | Unreachable> {
  const smarthost = options.smarthost;
  if (smarthost !== undefined) {
    const credentials =
      smarthost.username === undefined
        ? undefined
        : { username: smarthost.username, password: smarthost.password ?? '' };
    const policy: TlsPolicy =
      smarthost.tls === 'none' ? 'none' : smarthost.verify === true ? 'verify' : 'required';
    const host: RouteHost = { name: smarthost.host, preference: 0 };
    if (isIP(smarthost.host) !== 0) host.addresses = [smarthost.host];
    return {
      hosts: [host],
      port: smarthost.port,
      tls: policy,
      implicitTls: smarthost.tls === 'implicit',
      credentials,
    };
  }
  const route = await routeFor(destination, options.resolver, options.random);
  switch (route.kind) {
    case 'hosts':
      return { hosts: route.hosts, port: options.port, tls: tls ?? 'may', implicitTls: false };
    case 'null-mx':
      return {
        status: 'failed',
        reply: reply(556, '5.1.10', `Domain ${destination} accepts no mail (null MX)`),
      };
    case 'no-host':
      return {
        status: 'failed',
        reply: reply(550, '5.1.2', `Host or domain name not found: ${route.detail}`),
      };
    case 'dns-error':
      return { status: 'deferred', reply: reply(451, '4.4.3', `DNS lookup failed: ${route.detail}`) };
  }
}
