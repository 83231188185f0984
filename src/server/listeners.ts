import type { ListenerConfig } from '../config/schema.js';
import type { SmtpServerOptions } from '../protocol/smtp/types.js';
import type { TlsMaterial } from './tls.js';

/** Splits "host:port" / "[v6]:port" into its parts. */
export function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(at + 1)) };
}

/** The protocol layer's options for one configured listener. */
export function smtpOptions(listener: ListenerConfig, hostname: string, tls: TlsMaterial): SmtpServerOptions {
  return {
    hostname,
    banner: 'outpost',
    maxMessageSize: listener.max_message_size,
    maxRecipients: listener.max_recipients,
    maxHops: listener.max_hops,
    maxCommandLine: listener.max_command_line,
    maxDataLine: listener.max_data_line,
    maxConnections: listener.max_connections,
    maxConnectionsPerIp: listener.max_connections_per_ip,
    commandTimeoutMs: listener.command_timeout,
    dataTimeoutMs: listener.data_timeout,
    maxErrors: listener.max_errors,
    tls: { key: tls.key, cert: tls.cert },
    implicitTls: listener.implicit_tls,
    dsn: true,
    ...(listener.profile === 'submission'
      ? { auth: { allowInsecureAuth: listener.allow_insecure_auth } }
      : {}),
  };
}
