// CPU profile of outpost's accept path: starts `outpost serve` under `node --cpu-prof`, loads it
// with smtp-source, stops it (SIGTERM writes the profile) and prints where the main thread's time
// went, by function and by file. The writer thread writes its own profile next to it.
//
//   npx tsx bench/accept/profile.ts [--messages 4000] [--sessions 20] [--persistent] [--lmtp-sink]
//     [--keep DIR]
//
// --lmtp-sink routes local mail to an smtp-sink speaking LMTP instead of Maildir, to see the accept
// path without local delivery's fsyncs competing for the disk.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomPort, spawnBenchOutpost, waitForPort, writeBenchConfig } from './net.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '4000' },
    sessions: { type: 'string', default: '20' },
    size: { type: 'string', default: '4096' },
    persistent: { type: 'boolean', default: false },
    'lmtp-sink': { type: 'boolean', default: false },
    keep: { type: 'string' },
  },
});
const root = path.resolve(import.meta.dirname, '../..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
}

/** Self time per function and per file, in ms, largest first. */
function summarize(profile: CpuProfile): { byFunction: [string, number][]; byFile: [string, number][] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, ms] of self) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const file = frame.url.replace(/^file:\/\//, '').replace(`${root}/`, '') || '(native)';
    const name = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    const group = file.includes('node_modules/')
      ? `node_modules/${file.split('node_modules/').pop()?.split('/')[0]}`
      : file;
    byFile.set(group, (byFile.get(group) ?? 0) + ms);
  }
  const top = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return { byFunction: top(byFunction), byFile: top(byFile) };
}

async function main(): Promise<void> {
  const dir = values.keep ?? mkdtempSync(path.join(tmpdir(), 'bench-profile-'));
  mkdirSync(dir, { recursive: true });
  const profiles = path.join(dir, 'profiles');
  const port = randomPort();
  const sinkPort = randomPort();
  writeBenchConfig(dir, port, {
    logLevel: 'warn',
    ...(values['lmtp-sink'] ? { lmtpSinkPort: sinkPort } : {}),
  });
  const sink = values['lmtp-sink']
    ? spawn('smtp-sink', ['-L', '-u', 'nobody', `127.0.0.1:${sinkPort}`, '1000'], { stdio: 'ignore' })
    : undefined;
  const server = spawnBenchOutpost(dir, ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
  try {
    await waitForPort(port);
    const args = ['-s', values.sessions, '-m', values.messages, '-l', values.size];
    if (values.persistent) args.push('-d');
    args.push('-f', 'load@example.org', '-t', 'postmaster@localhost', `127.0.0.1:${port}`);
    const started = process.hrtime.bigint();
    await run('smtp-source', args);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(
      `${values.messages} messages in ${seconds.toFixed(2)} s: ${(Number(values.messages) / seconds).toFixed(0)} msg/s\n`,
    );
  } finally {
    await new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.kill('SIGTERM');
    });
    sink?.kill('SIGTERM');
  }
  for (const file of readdirSync(profiles).sort()) {
    const profile = JSON.parse(readFileSync(path.join(profiles, file), 'utf8')) as CpuProfile;
    const total = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0) / 1000;
    const { byFunction, byFile } = summarize(profile);
    process.stdout.write(`\n## ${file} (${total.toFixed(0)} ms sampled)\n\nBy file:\n`);
    for (const [name, ms] of byFile) process.stdout.write(`${ms.toFixed(0).padStart(7)} ms  ${name}\n`);
    process.stdout.write('\nBy function:\n');
    for (const [name, ms] of byFunction) process.stdout.write(`${ms.toFixed(0).padStart(7)} ms  ${name}\n`);
  }
  if (values.keep === undefined) rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`\nProfiles kept in ${profiles}\n`);
}

await main();
