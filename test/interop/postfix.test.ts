// Interop with a real Postfix (Debian postfix 3.x), a private instance started by each test with its
// own config, queue and log in a temp folder (test/helpers/postfix.ts). Postfix relays into outpost;
// outpost delivers by MX lookup into Postfix; and Postfix, as an ordinary sender, falls through from
// outpost's trusted MX (554 at the greeting) to the untrusted one, which files the mail in Junk.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { verifyMessageOnce } from '../../src/checks/dkim/verify.js';
import { dkimRecordName, dkimTxtRecord, generateDkimKey, saveDkimKey } from '../../src/dkim/keys.js';
import { reverseName } from '../../src/dns/names.js';
import { newQueueId } from '../../src/queue/ids.js';
import { fakeInternet, type PostOffice, readMessage } from '../helpers/fake-internet.js';
import { waitFor } from '../helpers/net.js';
import { MAILBOX_UID, type Postfix, postfixUnavailable, startPostfix } from '../helpers/postfix.js';

const skip = postfixUnavailable();
const TIMEOUT_MS = 90_000;

/** Postfix queues and retries slower than outpost: poll longer and less often. */
const POSTFIX_WAIT = { timeoutMs: 20_000, intervalMs: 100 };

/** The text of the first message in a folder of an outpost mailbox; the error carries Postfix's log. */
async function firstMessage(
  office: PostOffice,
  user: string,
  folder: string,
  postfix: Postfix,
): Promise<string> {
  try {
    const [file] = await waitFor(
      `a message in ${user}@${office.domain} ${folder || 'INBOX'}`,
      async () => {
        const files = await office.mailbox(user, folder);
        return files.length > 0 ? files : undefined;
      },
      POSTFIX_WAIT,
    );
    assert.ok(file);
    return await readMessage(file);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nPostfix log:\n${await postfix.log()}`);
  }
}

function letter(from: string, to: string, subject: string): string {
  return (
    `From: <${from}>\nTo: <${to}>\nSubject: ${subject}\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n` +
    `Message-ID: <${newQueueId()}@postfix.test>\n\n${subject}, sent through a real Postfix.\n`
  );
}

test('Postfix relays into outpost: the message lands in the Maildir', {
  skip,
  timeout: TIMEOUT_MS,
}, async (t) => {
  const internet = await fakeInternet(t, {
    offices: [{ domain: 'bob.example', ip: '127.0.0.3', users: ['bob'] }],
  });
  const bob = internet.office('bob.example');
  const postfix = await startPostfix(t, { main: () => ({ relayhost: `[${bob.ip}]:${bob.port}` }) });

  await postfix.sendmail(
    'alice@postfix.test',
    ['bob@bob.example'],
    letter('alice@postfix.test', 'bob@bob.example', 'Relayed'),
  );

  const delivered = await firstMessage(bob, 'bob', '', postfix);
  assert.match(delivered, /^Subject: Relayed$/m);
  // Postfix's own trace header, then ours naming Postfix's EHLO.
  assert.match(delivered, /^Received: by postfix\.test \(Postfix/m);
  assert.match(delivered, /^Received: from postfix\.test /m);
  const log = await postfix.waitForLog(/to=<bob@bob\.example>.*status=sent/);
  assert.match(
    log,
    new RegExp(`relay=${bob.ip.replace(/\./g, '\\.')}\\[${bob.ip.replace(/\./g, '\\.')}\\]:${bob.port}`),
  );
});

test('outpost delivers by MX lookup into Postfix, DKIM-signed; Postfix files it in a Maildir', {
  skip,
  timeout: TIMEOUT_MS,
}, async (t) => {
  const postfixIp = '127.0.0.4';
  const postfix = await startPostfix(t, {
    address: postfixIp,
    main: (paths) => ({
      virtual_mailbox_domains: 'postfix.example',
      virtual_mailbox_base: paths.mail,
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_uid_maps: `static:${MAILBOX_UID}`,
      virtual_gid_maps: `static:${MAILBOX_UID}`,
    }),
    // The trailing slash makes virtual(8) write a Maildir.
    files: { vmailbox: 'carol@postfix.example carol/\n' },
  });

  // alice.example's data folder holds a DKIM key before the outpost starts, as `outpost dkim keygen` leaves it.
  const aliceData = await mkdtemp(path.join(os.tmpdir(), 'outpost-alice-'));
  t.after(() => rm(aliceData, { recursive: true, force: true }));
  const key = { selector: 'outpost', ...(await generateDkimKey('ed25519-sha256')) };
  await saveDkimKey(aliceData, 'alice.example', key.selector, key);

  const internet = await fakeInternet(t, {
    offices: [
      {
        domain: 'alice.example',
        ip: '127.0.0.2',
        users: ['alice'],
        config: {
          data_dir: aliceData,
          delivery: { smtp: { port: postfix.port, local_address: '127.0.0.2' } },
        },
      },
    ],
    zone: [
      '$ORIGIN postfix.example.',
      '@ MX 10 mx.postfix.example.',
      `mx A ${postfixIp}`,
      '$ORIGIN alice.example.',
      `${dkimRecordName(key.selector, 'alice.example')}. TXT "${dkimTxtRecord(key)}"`,
      '',
    ].join('\n'),
  });
  const alice = internet.office('alice.example');
  const id = newQueueId();
  await alice.outpost.store.enqueue({
    id,
    sender: 'alice@alice.example',
    body: Buffer.from(
      letter('alice@alice.example', 'carol@postfix.example', 'Outbound').replace(/\n/g, '\r\n'),
    ),
    receivedAt: Date.now(),
    meta: { test: 'postfix-interop' },
    recipients: [{ address: 'carol@postfix.example', target: 'smtp' }],
  });
  alice.outpost.runner.kick();

  const newDir = path.join(postfix.paths.mail, 'carol', 'new');
  const file = await waitFor(
    "the message in Postfix's Maildir",
    async () => {
      const names = await readdir(newDir).catch(() => [] as string[]);
      return names[0];
    },
    POSTFIX_WAIT,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\nPostfix log:\n${await postfix.log()}`);
  });
  const delivered = await readFile(path.join(newDir, file));
  const text = delivered.toString();
  assert.match(text, /^Subject: Outbound$/m);
  assert.match(text, /^Delivered-To: carol@postfix\.example$/m, 'delivered by virtual(8)');
  assert.match(
    text,
    /^Received: from mx\.alice\.example \([^)]*\[127\.0\.0\.2\]\)\s+by postfix\.test \(Postfix\)/m,
  );
  assert.match(text, /^DKIM-Signature: .*d=alice\.example/ms);

  // The signature still verifies after Postfix's handling, with the key from our DNS server.
  const verdict = await verifyMessageOnce(
    Buffer.from(text.replace(/\r?\n/g, '\r\n')),
    internet.dns.resolver,
    { minKeyBits: 1024, now: Date.now() },
  );
  assert.deepEqual(
    verdict.results.map((result) => [result.signingDomain, result.status.result]),
    [['alice.example', 'pass']],
  );
  const row = await waitFor(
    'the final status at alice',
    async () => {
      const recipient = (await alice.outpost.store.message(id))?.recipients[0];
      return recipient?.status === 'delivered' ? recipient : undefined;
    },
    POSTFIX_WAIT,
  );
  assert.match(row.lastReply ?? '', /^250 /);
});

test('Postfix as the sender falls through from the trusted MX (554 greeting) to the untrusted MX: Junk with A-R', {
  skip,
  timeout: TIMEOUT_MS,
}, async (t) => {
  const trustedIp = '127.0.0.2';
  const untrustedIp = '127.0.0.3';
  const postfixClientIp = '127.0.0.40';
  const internet = await fakeInternet(t, {
    offices: [
      {
        domain: 'bob.example',
        ip: trustedIp,
        users: ['bob'],
        config: {
          listeners: [
            {
              name: 'mx-trusted',
              profile: 'mx-trusted',
              address: `${trustedIp}:0`,
              checks: [{ use: 'rttl', lists: [{ zone: 'trust.test', min_trust: 1 }] }],
            },
            { name: 'mx-untrusted', profile: 'mx-untrusted', address: `${untrustedIp}:0` },
          ],
        },
      },
    ],
    // bob.example's second MX, a trust list Postfix is not on, and Postfix's forward-confirmed name.
    zone: [
      '$ORIGIN bob.example.',
      '@ MX 20 mx2.bob.example.',
      `mx2 A ${untrustedIp}`,
      '$ORIGIN trust.test.',
      '@ TXT "a trust list for tests"',
      '$ORIGIN postfix.test.',
      `mail A ${postfixClientIp}`,
      '$ORIGIN 127.in-addr.arpa.',
      `${reverseName(postfixClientIp)}. PTR mail.postfix.test.`,
      '',
    ].join('\n'),
  });
  const bob = internet.office('bob.example');
  const portOf = (name: string) => {
    const listener = bob.outpost.listening.find((l) => l.name === name);
    assert.ok(listener, `${name} listens`);
    return listener.port;
  };

  // Postfix resolves through the system resolver, which knows nothing of bob.example: the test
  // hands it bob.example's MX list, as our DNS server answers it, as one transport entry with the
  // next hops in preference order (Postfix 3.5 and later try them in that order).
  const exchanges = (await internet.dns.resolver.resolveMx('bob.example')).sort(
    (a, b) => a.priority - b.priority,
  );
  const hops: string[] = [];
  for (const exchange of exchanges) {
    const [address] = await internet.dns.resolver.resolve4(exchange.exchange);
    assert.ok(address, `${exchange.exchange} has an address`);
    hops.push(`[${address}]:${portOf(address === trustedIp ? 'mx-trusted' : 'mx-untrusted')}`);
  }
  assert.deepEqual(
    hops.map((hop) => hop.replace(/:\d+$/, '')),
    [`[${trustedIp}]`, `[${untrustedIp}]`],
    'the trusted MX first',
  );
  const postfix = await startPostfix(t, {
    main: () => ({
      transport_maps: 'texthash:$config_directory/transport',
      smtp_bind_address: postfixClientIp,
      myhostname: 'mail.postfix.test',
      // The default, stated because the fall-through rests on it.
      smtp_skip_5xx_greeting: 'yes',
    }),
    files: { transport: `bob.example smtp:${hops.join(', ')}\n` },
  });

  await postfix.sendmail(
    'alice@postfix.test',
    ['bob@bob.example'],
    letter('alice@postfix.test', 'bob@bob.example', 'Unlisted hello'),
  );

  const junk = await firstMessage(bob, 'bob', 'Junk', postfix);
  assert.match(junk, /^Subject: Unlisted hello$/m);
  assert.match(junk, /^Authentication-Results: mx\.bob\.example;/m);
  assert.match(junk, new RegExp(`iprev=pass policy\\.iprev=${postfixClientIp.replace(/\./g, '\\.')}`));
  assert.match(junk, /X-Outpost-Verdict: quarantine/);
  assert.deepEqual(await bob.mailbox('bob', ''), [], 'nothing in the inbox');

  const log = await postfix.waitForLog(/to=<bob@bob\.example>.*status=sent/);
  assert.match(
    log,
    new RegExp(`host ${trustedIp.replace(/\./g, '\\.')}\\[[0-9.]+\\] refused to talk to me: 554`),
    'the trusted MX refused Postfix at the greeting',
  );
  assert.match(
    log,
    new RegExp(
      `to=<bob@bob\\.example>, relay=${untrustedIp.replace(/\./g, '\\.')}\\[[0-9.]+\\]:\\d+.*status=sent`,
    ),
    'Postfix delivered to the untrusted MX',
  );
});
