/**
 * SMTP layer comparison: the `smtp-server` package versus outpost's own protocol layer, each with a
 * trivial in-memory data handler, driven on loopback with a new connection per message.
 *
 *   node --import tsx bench/smtp-layer/compare.ts [--messages 2000] [--concurrency 20] [--cap 60]
 *
 * Each server runs in its own child process so the load generator does not share its event loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { startTrivialSmtpServer } from './trivial-server.js';

type Kind = 'smtp-server' | 'outpost';
const KINDS: readonly Kind[] = ['smtp-server', 'outpost'];
const MAX_MESSAGE_SIZE = 10 * 1024 * 1024;
const BODY = makeBody(2048);
const WARMUP_MESSAGES = 100;
// Linux USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
const CLOCK_TICKS = 100;

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    messages: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '20' },
    cap: { type: 'string', default: '60' },
  },
});

if (values.serve !== undefined) {
  await serve(values.serve as Kind);
} else {
  await compare(Number(values.messages), Number(values.concurrency), Number(values.cap) * 1000);
}

async function compare(messages: number, concurrency: number, capMs: number): Promise<void> {
  console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})`);
  console.log(`${messages} messages of ${BODY.length} bytes, ${concurrency} concurrent, new connection each`);
  for (const kind of KINDS) {
    const { child, port } = await startServer(kind);
    try {
      await drive(port, WARMUP_MESSAGES, concurrency, capMs);
      const cpuBefore = await cpuSeconds(child);
      const result = await drive(port, messages, concurrency, capMs);
      const cpuUsed = (await cpuSeconds(child)) - cpuBefore;
      const rate = result.delivered / (result.elapsedMs / 1000);
      const capped = result.delivered < messages ? ' (time cap reached)' : '';
      const perMessage = Number.isNaN(cpuUsed)
        ? 'n/a'
        : `${((cpuUsed / result.delivered) * 1e6).toFixed(0)} us`;
      console.log(
        `${kind.padEnd(12)} ${rate.toFixed(0).padStart(6)} msg/s  ${result.delivered} delivered, ` +
          `${result.failed} failed, ${(result.elapsedMs / 1000).toFixed(2)} s${capped}, ` +
          `server CPU ${perMessage}/msg`,
      );
    } finally {
      child.kill();
    }
  }
}

/** Child process: one server on an ephemeral loopback port; prints "PORT n". */
async function serve(kind: Kind): Promise<void> {
  if (kind === 'smtp-server') {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      size: MAX_MESSAGE_SIZE,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          Buffer.concat(chunks);
          callback();
        });
      },
    });
    server.listen(0, '127.0.0.1', () => {
      const address = server.server.address();
      if (address !== null && typeof address === 'object') console.log(`PORT ${address.port}`);
    });
    return;
  }
  const { port } = await startTrivialSmtpServer('bench.test', MAX_MESSAGE_SIZE);
  console.log(`PORT ${port}`);
}

/** User + system CPU seconds of a child process (Linux /proc); NaN elsewhere. */
async function cpuSeconds(child: ChildProcess): Promise<number> {
  try {
    const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

function startServer(kind: Kind): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--serve', kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /PORT (\d+)/.exec(output);
      if (match?.[1] !== undefined) resolve({ child, port: Number(match[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

/** Sends `total` messages over `concurrency` parallel workers, one connection per message. */
async function drive(
  port: number,
  total: number,
  concurrency: number,
  capMs: number,
): Promise<{ delivered: number; failed: number; elapsedMs: number }> {
  const started = performance.now();
  const deadline = started + capMs;
  let issued = 0;
  let delivered = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (issued < total && performance.now() < deadline) {
      issued++;
      if (await sendOne(port)) delivered++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { delivered, failed, elapsedMs: performance.now() - started };
}

/** One message on a fresh connection: greeting, EHLO, pipelined MAIL/RCPT/DATA, body, QUIT. */
async function sendOne(port: number): Promise<boolean> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  const replies = replyReader(socket);
  try {
    if ((await replies.next()) !== 220) return false;
    socket.write('EHLO client.bench.test\r\n');
    if ((await replies.next()) !== 250) return false;
    socket.write('MAIL FROM:<sender@client.bench.test>\r\nRCPT TO:<rcpt@bench.test>\r\nDATA\r\n');
    const mail = await replies.next();
    const rcpt = await replies.next();
    const data = await replies.next();
    if (mail !== 250 || rcpt !== 250 || data !== 354) return false;
    socket.write(BODY);
    if ((await replies.next()) !== 250) return false;
    socket.write('QUIT\r\n');
    await replies.next();
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** Reads final reply codes off a socket, one per call. */
function replyReader(socket: Socket): { next(): Promise<number> } {
  let received = '';
  const codes: number[] = [];
  let waiting: { resolve: (code: number) => void; reject: (error: Error) => void } | undefined;
  const fail = (error: Error): void => {
    waiting?.reject(error);
    waiting = undefined;
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('closed')));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    for (let end = received.indexOf('\n'); end >= 0; end = received.indexOf('\n')) {
      const line = received.slice(0, end);
      received = received.slice(end + 1);
      if (line[3] === '-') continue;
      const code = Number(line.slice(0, 3));
      if (waiting !== undefined) {
        waiting.resolve(code);
        waiting = undefined;
      } else {
        codes.push(code);
      }
    }
  });
  return {
    next() {
      const code = codes.shift();
      if (code !== undefined) return Promise.resolve(code);
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
  };
}

function makeBody(size: number): string {
  const header =
    'From: sender@client.bench.test\r\nTo: rcpt@bench.test\r\nSubject: bench\r\n' +
    'Message-ID: <bench@client.bench.test>\r\n\r\n';
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  let text = header;
  while (text.length < size) text += line;
  return `${text}.\r\n`;
}
