// outpost's SMTP protocol layer with handlers that accept everything and store nothing: what the
// layer alone costs (bench/smtp-layer/compare.ts, bench/accept/protocol-cpu.ts).
import { createSmtpServer, type SmtpServer } from '../../src/protocol/smtp/server.js';

/** Listens on an ephemeral loopback port with limits high enough never to be what a bench measures. */
export async function startTrivialSmtpServer(
  hostname: string,
  maxMessageSize: number,
): Promise<{ server: SmtpServer; port: number }> {
  const server = createSmtpServer(
    {
      hostname,
      maxMessageSize,
      maxRecipients: 100,
      maxHops: 100,
      maxCommandLine: 2048,
      maxDataLine: 65536,
      maxConnections: 1000,
      maxConnectionsPerIp: 1000,
      commandTimeoutMs: 60_000,
      dataTimeoutMs: 60_000,
      maxErrors: 10,
      dsn: true,
    },
    {
      mailFrom: async () => undefined,
      rcptTo: async () => undefined,
      data: async () => ({ code: 250, enhanced: '2.0.0', text: 'Ok: queued' }),
    },
  );
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}
