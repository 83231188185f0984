// Runs the demo: starts the world, plays every step with its own time limit, and reports which
// steps failed. The CLI decides whether to keep the world running afterwards.
import type { Printer } from './events.js';
import { DEMO_STEPS, type DemoStep } from './steps.js';
import { DEMO_PASSWORD, type DemoWorld, startDemoWorld } from './world.js';

export interface DemoOptions {
  print: Printer;
  /** Time each step has to show its outcome. */
  stepTimeoutMs: number;
  steps?: readonly DemoStep[];
}

export interface DemoRun {
  world: DemoWorld;
  /** "step N (title): why", one per failed step; empty when every outcome was seen. */
  failures: string[];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Starts the fake internet and plays the steps; the caller stops the world. */
export async function runDemo(options: DemoOptions): Promise<DemoRun> {
  const { print } = options;
  print('Starting the fake internet ...');
  const world = await startDemoWorld(print);
  describeWorld(world, print);
  const failures: string[] = [];
  const steps = options.steps ?? DEMO_STEPS;
  for (const [index, step] of steps.entries()) {
    const number = index + 1;
    print(`\nStep ${number}: ${step.title}`);
    try {
      await step.run({ world, print, deadline: Date.now() + options.stepTimeoutMs });
      print(`  ok: step ${number}`);
    } catch (error) {
      const failure = `step ${number} (${step.title}): ${describe(error)}`;
      print(`  FAILED: ${failure}`);
      failures.push(failure);
    }
  }
  return { world, failures };
}

function describeWorld(world: DemoWorld, print: Printer): void {
  print(`  DNS server (our own, authoritative): ${world.dnsAddress}`);
  for (const office of world.offices) {
    const second = office.untrusted ? `, ${office.untrusted.hostname} ${office.untrusted.ip}` : '';
    print(`  ${office.domain}: ${office.hostname} ${office.ip}${second}, data in ${office.dataDir}`);
  }
  print(
    `  ports: SMTP (as port 25) ${world.ports.smtp}, submission ${world.ports.submission}, IM2000 HTTPS ${world.ports.im2000}`,
  );
}

/** What to look at while the demo keeps running. */
export function printHowToLook(world: DemoWorld, print: Printer): void {
  const alice = world.office('alice');
  const bob = world.office('bob');
  print('\nThe fake internet keeps running until Ctrl-C. Have a look:');
  for (const office of world.offices) {
    print(`  ${office.name}'s Maildir: ${office.folder(office.name).replace(/\/new$/, '')}`);
    print(
      `  ${office.domain} admin: ${office.httpUrl}/admin (bearer token: ${office.config.http.token ?? '-'})`,
    );
  }
  print(`  users: alice@alice.example, bob@bob.example, carol@carol.example; password ${DEMO_PASSWORD}`);
  print('  send one yourself:');
  print(
    `    swaks --server ${alice.ip}:${world.ports.submission} --tls --auth PLAIN ` +
      `--auth-user alice@alice.example --auth-password ${DEMO_PASSWORD} ` +
      '--from alice@alice.example --to bob@bob.example',
  );
  print(
    `    swaks --server ${bob.untrusted?.ip ?? bob.ip}:${world.ports.smtp} --from someone@carol.example --to bob@bob.example   # unauthenticated: Junk`,
  );
  print(`  ask the DNS: kdig @127.0.0.1 -p ${world.dns.port} bob.example MX`);
}
