// CPU per message of outpost's SMTP protocol layer alone (trivial in-memory handlers), loaded by
// Postfix's smtp-source (HELO, MAIL, RCPT, DATA, QUIT) with a new connection per message (or -d): isolates the per-session and
// per-reply costs that the full accept path buries under delivery and queue work. The server runs
// in this process; smtp-source is the only other process, so process.cpuUsage() is the layer's cost.
//
//   npx tsx bench/accept/protocol-cpu.ts [--messages 10000] [--rounds 3] [--persistent]
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startTrivialSmtpServer } from '../smtp-layer/trivial-server.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '20' },
    persistent: { type: 'boolean', default: false },
  },
});

function smtpSource(port: number, messages: number): Promise<void> {
  const args = ['-s', values.sessions, '-m', String(messages), '-l', '4096'];
  if (values.persistent) args.push('-d');
  args.push('-f', 'load@example.org', '-t', 'postmaster@localhost', `127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`smtp-source exited ${code}`))));
  });
}

const { server, port } = await startTrivialSmtpServer('outpost.bench', 10 * 1024 * 1024);
console.log(
  `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);
await smtpSource(port, 1000);
for (let round = 1; round <= Number(values.rounds); round++) {
  const messages = Number(values.messages);
  const before = process.cpuUsage();
  const started = performance.now();
  await smtpSource(port, messages);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(before);
  const perMessage = (us: number): string => (us / 1000 / messages).toFixed(4);
  console.log(
    `round ${round}: ${(messages / seconds).toFixed(0)} msg/s, CPU ${perMessage(used.user + used.system)} ms/msg (user ${perMessage(used.user)}, system ${perMessage(used.system)})`,
  );
}
await server.close({ timeoutMs: 1000 });
