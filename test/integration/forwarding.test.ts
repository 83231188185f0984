// Forwarding end to end on the fake internet: alice@o.example writes to info@a.example, an alias
// forwarding to bob@b.example. a.example's MX is outpost's own (src/inbound/mx.ts with forwarding,
// docs/reference/forwarding.md) on a listener of its own that runs spf, with the queue, runner and
// SMTP delivery of a real outpost. b.example runs spf and arc: the forward passes SPF for the SRS
// domain and carries a valid ARC chain. A bounce to the SRS address goes back to alice. Mail that
// a.example's checks quarantine is not forwarded until an operator releases it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { listenerSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/log.js';
import { dkimTxtRecord, generateDkimKey } from '../../src/dkim/keys.js';
import { addAlias } from '../../src/forward/admin.js';
import { Forwarding } from '../../src/forward/forwarding.js';
import { type InboundDeps, mxHandlers } from '../../src/inbound/mx.js';
import { ListenerPolicy } from '../../src/inbound/policy.js';
import { LocalRecipients } from '../../src/inbound/recipients.js';
import { compileChecks } from '../../src/pipeline/config.js';
import { createSmtpServer } from '../../src/protocol/smtp/server.js';
import { applyQueueAction } from '../../src/queue/operations.js';
import { smtpOptions } from '../../src/server/listeners.js';
import { ensureCertificate } from '../../src/server/tls.js';
import { fakeInternet, messagesIn } from '../helpers/fake-internet.js';
import { freePort } from '../helpers/net.js';
import { smtpConnect } from '../helpers/smtp-client.js';

const A = { domain: 'a.example', ip: '127.0.0.61' };
const B = { domain: 'b.example', ip: '127.0.0.62' };
const O = { domain: 'o.example', ip: '127.0.0.63' };
/** A host that o.example's SPF record does not name. */
const FORGER_IP = '127.0.0.64';
const SELECTOR = 'fwd';

async function world(t: TestContext) {
  const port = await freePort();
  const sealKey = await generateDkimKey('rsa-sha256');
  const zone = [
    `$ORIGIN ${A.domain}.`,
    `@ TXT "v=spf1 ip4:${A.ip} -all"`,
    `${SELECTOR}._domainkey.mx TXT "${dkimTxtRecord(sealKey)}"`,
    `$ORIGIN ${O.domain}.`,
    `@ TXT "v=spf1 ip4:${O.ip} -all"`,
  ].join('\n');
  const office = (spec: { domain: string; ip: string }, users: string[], checks: unknown[]) => ({
    ...spec,
    users,
    config: {
      listeners: [{ name: 'mx', profile: 'mx', address: `${spec.ip}:${port}`, checks }],
      delivery: { smtp: { port, local_address: spec.ip } },
      queue: { poll: '100ms', retry: ['1s'] },
    },
  });
  const net = await fakeInternet(t, {
    offices: [
      office(A, [], []),
      office(B, ['bob'], [{ use: 'spf', on: { fail: 'accept', softfail: 'accept' } }, { use: 'arc' }]),
      office(O, ['alice'], []),
    ],
    zone,
  });
  const a = net.office(A.domain);
  await addAlias(a.outpost.store, [A.domain], `info@${A.domain}`, [`bob@${B.domain}`], false);
  const recipients = new LocalRecipients(new Set([A.domain]), a.outpost.store);
  const deps: InboundDeps = {
    listenerName: 'mx-forwarding',
    hostname: () => a.hostname,
    recipients,
    store: a.outpost.store,
    policy: new ListenerPolicy({
      checks: compileChecks([{ use: 'spf', on: { fail: 'quarantine' } }]),
      resolver: a.outpost.resolver,
      dnsBudget: 20,
      softBounce: false,
      refuseAtGreeting: false,
      logger: silentLogger(),
    }),
    logger: silentLogger(),
    onQueued: () => a.outpost.runner.kick(),
  };
  const forwarding = new Forwarding({
    dataDir: a.config.data_dir,
    hostname: () => a.hostname,
    keys: new Map([[a.hostname, [{ selector: SELECTOR, ...sealKey }]]]),
    users: a.outpost.store,
    isLocalDomain: (domain) => recipients.isLocalDomain(domain),
  });
  const tls = await ensureCertificate(
    path.join(a.config.data_dir, 'fwd-cert.pem'),
    path.join(a.config.data_dir, 'fwd-key.pem'),
    a.hostname,
  );
  const listener = listenerSchema.parse({ name: 'mx-forwarding', profile: 'mx', address: `${A.ip}:0` });
  const server = createSmtpServer(
    smtpOptions(listener, a.hostname, tls),
    mxHandlers({ ...deps, forwarding }),
  );
  const { port: mxPort } = await server.listen(0, A.ip);
  t.after(() => server.close({ timeoutMs: 0 }));
  return { net, mxPort, store: a.outpost.store };
}

test('mail to an alias arrives at the next hop with SPF pass for the SRS domain and a valid ARC chain; its bounce reaches the sender', async (t) => {
  const { net, mxPort } = await world(t);
  const client = await smtpConnect(mxPort, A.ip, { localAddress: O.ip });
  t.after(() => client.close());
  const accepted = await client.sendMail({
    from: `alice@${O.domain}`,
    to: [`info@${A.domain}`],
    body: `From: alice@${O.domain}\nTo: info@${A.domain}\nSubject: forwarded\nMessage-ID: <fwd-1@o.example>\n\nHello bob.\n`,
  });
  assert.equal(accepted.code, 250, accepted.text);

  const [forwarded = ''] = await messagesIn(net.office(B.domain), 'bob', '', 1);
  const returnPath = /^Return-Path: <(SRS0=[^>]+@a\.example)>/im.exec(forwarded)?.[1];
  assert.ok(returnPath, `the envelope sender was rewritten with SRS: ${forwarded.slice(0, 400)}`);
  const bResults = /^Authentication-Results: mx\.b\.example;[\s\S]*?(?=\r?\n\S)/m.exec(forwarded)?.[0] ?? '';
  assert.match(bResults, /spf=pass smtp\.mailfrom=a\.example;/);
  assert.match(bResults, /arc=pass/);
  assert.match(
    forwarded,
    /^ARC-Authentication-Results: i=1; mx\.a\.example; spf=pass smtp\.mailfrom=o\.example/m,
  );

  // A forged SRS address is no recipient; the real one takes the bounce back to alice.
  const forged = await client.sendMail({
    from: '',
    to: [returnPath.replace('=alice@', '=mallory@')],
    body: 'Subject: forged bounce\n\nx\n',
    ehlo: `mx.${O.domain}`,
  });
  assert.equal(forged.code, 550, forged.text);
  assert.equal(forged.enhanced, '5.1.1');
  await client.send('RSET');
  const bounce = await client.sendMail({
    from: '',
    to: [returnPath],
    body: `From: MAILER-DAEMON@${B.domain}\nSubject: Undelivered Mail\n\nbob left.\n`,
    ehlo: false,
  });
  assert.equal(bounce.code, 250, bounce.text);
  const [returned = ''] = await messagesIn(net.office(O.domain), 'alice', '', 1);
  assert.match(returned, /Subject: Undelivered Mail/);
});

test('a quarantined message to an alias is not forwarded until an operator releases it', async (t) => {
  const { net, mxPort, store } = await world(t);
  // alice's domain allows only O.ip: from FORGER_IP, SPF fails and a.example quarantines.
  const client = await smtpConnect(mxPort, A.ip, { localAddress: FORGER_IP });
  t.after(() => client.close());
  const accepted = await client.sendMail({
    from: `alice@${O.domain}`,
    to: [`info@${A.domain}`],
    body: `From: alice@${O.domain}\nTo: info@${A.domain}\nSubject: suspect\nMessage-ID: <fwd-2@o.example>\n\nHello?\n`,
  });
  assert.equal(accepted.code, 250, accepted.text);

  const [held] = await store.list({ status: 'quarantined', limit: 10 });
  assert.ok(held, 'the forwarded copy waits as quarantined');
  assert.equal(held.address, `bob@${B.domain}`);
  assert.equal((await store.message(held.messageId))?.meta.quarantined, true);
  // The runner is kicked after every enqueue; give it time to (not) deliver.
  net.office(A.domain).outpost.runner.kick();
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(await net.office(B.domain).mailbox('bob', ''), []);

  const released = await applyQueueAction(store, held.messageId, 'release');
  assert.equal(released.changed, 1);
  const [forwarded = ''] = await messagesIn(net.office(B.domain), 'bob', '', 1);
  assert.match(forwarded, /^X-Outpost-Verdict: quarantine; check=spf/m);
  assert.match(forwarded, /Subject: suspect/);
});
