// The demo's scenario, one step per idea: each step does something on the fake internet, prints
// what happens, and throws StepFailure when an expected outcome is missing.
import path from 'node:path';
import { DEFAULT_OUTBOX_LIMITS, messageStatus, storeOutgoing } from '../im2000/outbox.js';
import type { MessageStatus } from '../im2000/protocol.js';
import { IM2000_DB_FILE, Im2000Store } from '../im2000/store.js';
import type { Printer } from './events.js';
import {
  type Delivered,
  fieldLine,
  headerValues,
  messagesIn,
  StepFailure,
  signingDomains,
  waitForMessage,
} from './mailbox.js';
import { formatReply, greetingFrom, submit } from './submit.js';
import { DEMO_PASSWORD, type DemoOffice, type DemoWorld } from './world.js';

export interface StepContext {
  world: DemoWorld;
  print: Printer;
  /** Epoch ms by which the step must have seen its outcome. */
  deadline: number;
}

export interface DemoStep {
  title: string;
  run(context: StepContext): Promise<void>;
}

const STATUS_POLL_MS = 100;

function letter(from: string, to: string, subject: string): Buffer {
  const id = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}@${from.split('@')[1]}`;
  return Buffer.from(
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Message-ID: <${id}>\r\n\r\n${subject}: sent by the outpost demo.\r\n`,
  );
}

const withSubject = (subject: string) => (text: string) => text.includes(`Subject: ${subject}\r\n`);

/** A user of `office` submits one message at its own submission listener. */
async function submitAt(
  context: StepContext,
  office: DemoOffice,
  to: string,
  subject: string,
  notify?: string,
): Promise<void> {
  const from = `${office.name}@${office.domain}`;
  context.print(
    `  ${from} submits "${subject}" for <${to}> at ${office.ip}:${context.world.ports.submission}`,
  );
  const reply = await submit(
    {
      host: office.hostname,
      ip: office.ip,
      port: context.world.ports.submission,
      ca: context.world.caCert,
      username: from,
      password: DEMO_PASSWORD,
      from,
      to: [to],
      ...(notify === undefined ? {} : { notify }),
      message: letter(from, to, subject),
    },
    context.print,
  );
  if (reply.code !== 250) throw new StepFailure(`submission of "${subject}" refused: ${formatReply(reply)}`);
}

function showLanding(context: StepContext, delivered: Delivered): void {
  context.print(`  landed in ${delivered.file}`);
  for (const value of headerValues(delivered.text, 'Authentication-Results')) {
    context.print(`    Authentication-Results: ${value}`);
  }
  for (const value of headerValues(delivered.text, 'X-Outpost-Verdict')) {
    context.print(`    X-Outpost-Verdict: ${value}`);
  }
  const domains = signingDomains(delivered.text);
  if (domains.length > 0) context.print(`    DKIM-Signature d=${domains.join(', d=')}`);
}

function expect(condition: boolean, failure: string): void {
  if (!condition) throw new StepFailure(failure);
}

function authResults(delivered: Delivered): string {
  return headerValues(delivered.text, 'Authentication-Results').join('\n');
}

/** Alice's signed mail reaches bob's inbox through bob's trusted MX; returns what landed. */
async function aliceToBobInbox(context: StepContext, subject: string): Promise<Delivered> {
  const alice = context.world.office('alice');
  const bob = context.world.office('bob');
  await submitAt(context, alice, 'bob@bob.example', subject);
  const delivered = await waitForMessage(
    bob.folder('bob'),
    withSubject(subject),
    context.deadline,
    "bob's inbox",
  );
  showLanding(context, delivered);
  expect(signingDomains(delivered.text).includes('alice.example'), 'no DKIM signature d=alice.example');
  expect(/dnswl=pass/.test(authResults(delivered)), 'no dnswl=pass: not accepted as a listed sender');
  expect(/x-server-signature=pass/.test(authResults(delivered)), 'no x-server-signature=pass');
  return delivered;
}

const submittedAndDelivered: DemoStep = {
  title: 'mail submitted at alice is delivered by MX lookup into bob’s Maildir, DKIM-signed by alice',
  async run(context) {
    await aliceToBobInbox(context, 'Hello Bob');
  },
};

/** Whether a message is a DSN from `reportingMta` whose report says `action` for `recipient`. */
function isReport(recipient: string, action: string, reportingMta: string): (text: string) => boolean {
  return (text) =>
    /multipart\/report/i.test(text) &&
    fieldLine(text, 'Reporting-MTA')?.toLowerCase() === `dns; ${reportingMta}` &&
    fieldLine(text, 'Action')?.toLowerCase() === action &&
    fieldLine(text, 'Final-Recipient')?.toLowerCase() === `rfc822; ${recipient}`;
}

/** A DSN in alice's inbox from `reportingMta` whose report says `action` for `recipient`. */
async function reportInAlicesInbox(
  context: StepContext,
  recipient: string,
  action: string,
  reportingMta: string,
): Promise<Delivered> {
  const alice = context.world.office('alice');
  const report = await waitForMessage(
    alice.folder('alice'),
    isReport(recipient, action, reportingMta),
    context.deadline,
    `a DSN from ${reportingMta} (Action: ${action}) about ${recipient} in alice's inbox`,
  );
  context.print(`  DSN landed in ${report.file}`);
  for (const field of [
    'Subject',
    'Reporting-MTA',
    'Final-Recipient',
    'Action',
    'Status',
    'Diagnostic-Code',
  ]) {
    const value = field === 'Subject' ? headerValues(report.text, field)[0] : fieldLine(report.text, field);
    if (value !== undefined) context.print(`    ${field}: ${value}`);
  }
  return report;
}

const bounce: DemoStep = {
  title: 'a message to an unknown user at bob bounces: the DSN lands in alice’s inbox',
  async run(context) {
    await submitAt(context, context.world.office('alice'), 'nobody@bob.example', 'For nobody');
    const report = await reportInAlicesInbox(context, 'nobody@bob.example', 'failed', 'mx.alice.example');
    expect(/^Status:\s*5\./m.test(report.text), 'the bounce has no 5.x.x status');
  },
};

const successNotice: DemoStep = {
  title: 'NOTIFY=SUCCESS: bob delivers and alice gets a success DSN',
  async run(context) {
    const subject = 'Tell me when it arrives';
    await submitAt(context, context.world.office('alice'), 'bob@bob.example', subject, 'SUCCESS,FAILURE');
    const bob = context.world.office('bob');
    const delivered = await waitForMessage(
      bob.folder('bob'),
      withSubject(subject),
      context.deadline,
      "bob's inbox",
    );
    context.print(`  landed in ${delivered.file}`);
    // bob offers DSN, so alice passes NOTIFY on and the notice comes from bob, the final MTA.
    const report = await reportInAlicesInbox(context, 'bob@bob.example', 'delivered', bob.hostname);
    expect(/^Status:\s*2\./m.test(report.text), 'the success notice has no 2.x.x status');
    const alice = context.world.office('alice');
    const own = await messagesIn(
      alice.folder('alice'),
      isReport('bob@bob.example', 'delivered', alice.hostname),
    );
    expect(
      own.length === 0,
      `${alice.hostname} also reported "delivered" itself although ${bob.hostname} took NOTIFY over (RFC 3461 4.1)`,
    );
  },
};

const twoTierMx: DemoStep = {
  title:
    'two-tier MX: listed and signed alice -> trusted MX -> inbox; unlisted carol -> 554 -> untrusted MX -> Junk',
  async run(context) {
    const { world, print } = context;
    const bob = world.office('bob');
    const carol = world.office('carol');
    const alice = world.office('alice');
    print(
      `  bob.example: MX 10 ${bob.hostname} (${bob.ip}, mx-trusted), MX 20 ${bob.untrusted?.hostname} (${bob.untrusted?.ip}, mx-untrusted)`,
    );
    const aliceGreeting = await greetingFrom(bob.ip, world.ports.smtp, alice.ip);
    print(`  ${alice.hostname} (${alice.ip}) connects to ${bob.hostname}: ${formatReply(aliceGreeting)}`);
    expect(aliceGreeting.code === 220, `listed alice was not greeted with 220 at the trusted MX`);
    const carolGreeting = await greetingFrom(bob.ip, world.ports.smtp, carol.ip);
    print(`  ${carol.hostname} (${carol.ip}) connects to ${bob.hostname}: ${formatReply(carolGreeting)}`);
    expect(carolGreeting.code === 554, `unlisted carol got ${carolGreeting.code} at the trusted MX, not 554`);

    await aliceToBobInbox(context, 'Trusted hello');
    const subject = 'Untrusted hello';
    await submitAt(context, carol, 'bob@bob.example', subject);
    const junk = await waitForMessage(
      bob.folder('bob', 'Junk'),
      withSubject(subject),
      context.deadline,
      "bob's Junk",
    );
    showLanding(context, junk);
    expect(
      headerValues(junk.text, 'X-Outpost-Verdict').some((v) => v.startsWith('quarantine')),
      'no quarantine verdict',
    );
    expect(authResults(junk) !== '', 'no Authentication-Results on the Junk message');
    expect(
      headerValues(junk.text, 'Received').some((v) => v.includes(`[${carol.ip}]`)),
      `carol's message was not received from ${carol.ip}`,
    );
  },
};

function describeStatus(status: MessageStatus): string {
  return status.recipients.map((r) => `${r.address}: ${r.status} (attempts ${r.attempts})`).join(', ');
}

const im2000Exchange: DemoStep = {
  title: 'IM2000: alice’s post office stores, bob’s pulls after a signed notice, and sends a receipt',
  async run(context) {
    const { world, print } = context;
    const alice = world.office('alice');
    const bob = world.office('bob');
    const subject = 'Pull this one';
    const store = new Im2000Store(path.join(alice.dataDir, IM2000_DB_FILE));
    try {
      const id = storeOutgoing(
        store,
        {
          from: 'alice@alice.example',
          to: ['bob@bob.example'],
          message: letter('alice@alice.example', 'bob@bob.example', subject),
        },
        { ...DEFAULT_OUTBOX_LIMITS, domains: alice.config.domains },
        Date.now(),
      );
      print(
        `  stored at ${alice.hostname} as ${id} (as "outpost im2000 send" does); notices go out from https://${alice.hostname}:${world.ports.im2000}`,
      );
      let shown = '';
      for (;;) {
        const status = messageStatus(store, id);
        const line = describeStatus(status);
        if (line !== shown) print(`  status: ${line}`);
        shown = line;
        if (status.recipients.every((r) => r.status === 'receipted')) break;
        if (Date.now() > context.deadline) throw new StepFailure(`no receipt from bob: ${line}`);
        await new Promise((resolve) => setTimeout(resolve, STATUS_POLL_MS));
      }
    } finally {
      store.close();
    }
    const delivered = await waitForMessage(
      bob.folder('bob'),
      withSubject(subject),
      context.deadline,
      "bob's inbox",
    );
    context.print(`  pulled into ${delivered.file}`);
    const received = headerValues(delivered.text, 'Received')[0] ?? '';
    context.print(`    Received: ${received}`);
    expect(/with IM2000/.test(received), 'the message in bob’s inbox did not come by IM2000');
  },
};

/** Every step of the demo, in order. */
export const DEMO_STEPS: readonly DemoStep[] = [
  submittedAndDelivered,
  bounce,
  successNotice,
  twoTierMx,
  im2000Exchange,
];
