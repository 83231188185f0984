import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseUserSettings } from '../../../src/cli/user-set.js';
import type { CheckEntryConfig } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/core/log.js';
import { createResolver } from '../../../src/dns/resolver.js';
import { ListenerPolicy } from '../../../src/inbound/policy.js';
import {
  clientCertificateRefusal,
  clientCertTls,
  mxTrustedHandlers,
  profileChecks,
} from '../../../src/inbound/profiles.js';
import { LocalRecipients } from '../../../src/inbound/recipients.js';
import { untrustedChoice, untrustedDisposition } from '../../../src/inbound/untrusted.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { createSmtpServer } from '../../../src/protocol/smtp/server.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { TEST_OPTIONS } from '../smtp/fixture.js';
import { hasOpenssl, makeRegistrar, type Registrar, removeRegistrar } from './server-signature-registrar.js';

const rttl: CheckEntryConfig = { use: 'rttl', lists: ['trust.test'], dry_run: false };

test('mx-trusted: rttl refuses unlisted clients and server-signature is added, refusing fail and none', () => {
  const checks = profileChecks('mx-trusted', [rttl]);
  assert.deepEqual(
    checks.map((entry) => [entry.use, entry.on]),
    [
      ['rttl', { fail: 'reject', none: 'reject', temperror: 'defer' }],
      ['server-signature', { fail: 'reject', none: 'reject', temperror: 'defer' }],
    ],
  );
  const compiled = compileChecks(checks);
  assert.deepEqual(
    compiled.map((check) => [check.name, check.stage, check.actions.none, check.actions.fail]),
    [
      ['rttl', 'connect', 'reject', 'reject'],
      ['server-signature', 'data', 'reject', 'reject'],
    ],
  );
});

test("mx-trusted keeps the operator's own actions and checks", () => {
  const checks = profileChecks('mx-trusted', [
    { ...rttl, on: { none: 'quarantine' } },
    { use: 'server-signature', on: { fail: 'quarantine' }, dry_run: true },
    { use: 'spf', dry_run: false },
  ]);
  assert.deepEqual(checks[0]?.on, { fail: 'reject', none: 'quarantine', temperror: 'defer' });
  assert.deepEqual(checks[1]?.on, { fail: 'quarantine', none: 'reject', temperror: 'defer' });
  assert.equal(checks[1]?.dry_run, true);
  assert.deepEqual(checks[2], { use: 'spf', dry_run: false });
  assert.equal(checks.length, 3);
});

test('mx-trusted without an rttl check is a configuration error', () => {
  assert.throws(() => profileChecks('mx-trusted', []), { code: 'CONFIG_INVALID', message: /rttl/ });
});

test('mx-untrusted defaults to spf, dkim, dmarc and fcrdns quarantining what is not authenticated', () => {
  const checks = compileChecks(profileChecks('mx-untrusted', []));
  const byName = new Map(checks.map((check) => [check.name, check]));
  assert.deepEqual([...byName.keys()].sort(), ['dkim', 'dmarc', 'fcrdns', 'spf']);
  assert.equal(byName.get('dmarc')?.actions.none, 'quarantine');
  assert.equal(byName.get('dmarc')?.actions.fail, 'quarantine');
  assert.equal(byName.get('dmarc')?.actions.pass, 'accept');
  assert.equal(byName.get('spf')?.actions.fail, 'quarantine');
  assert.equal(byName.get('fcrdns')?.actions.permerror, 'quarantine');
  const own: CheckEntryConfig[] = [{ use: 'spf', dry_run: false }];
  assert.deepEqual(profileChecks('mx-untrusted', own), own);
  assert.deepEqual(profileChecks('mx', own), own);
});

test("each user's choice for quarantined mail: Junk by default, Inbox, or refuse", () => {
  assert.equal(untrustedChoice(undefined), 'junk');
  assert.equal(untrustedChoice({ settings: {} }), 'junk');
  assert.equal(untrustedChoice({ settings: { untrusted: 'bogus' } }), 'junk');
  assert.equal(untrustedChoice({ settings: { untrusted: 'refuse' } }), 'refuse');
  assert.deepEqual(untrustedDisposition('junk', true), { folder: 'Junk' });
  assert.deepEqual(untrustedDisposition('inbox', true), {});
  assert.deepEqual(untrustedDisposition('refuse', true), { refuse: true });
  for (const choice of ['junk', 'inbox', 'refuse'] as const) {
    assert.deepEqual(untrustedDisposition(choice, false), {}, 'authenticated mail goes to INBOX');
  }
});

test('outpost user set parses untrusted=junk|inbox|refuse and names bad input', () => {
  assert.deepEqual(parseUserSettings(['untrusted=inbox']), { untrusted: 'inbox' });
  assert.throws(() => parseUserSettings(['untrusted=maybe']), /expected junk\|inbox\|refuse/);
  assert.throws(() => parseUserSettings(['colour=blue']), /unknown setting "colour"/);
});

test('clientCertificateRefusal: 554 at the greeting, 451 4.7.1 later, nothing when not required', () => {
  const authorized = {
    tls: { protocol: 'TLSv1.3', cipher: 'x', authorized: true, peerCertificate: {} as never },
  };
  assert.equal(clientCertificateRefusal({}, false, true), undefined);
  assert.equal(clientCertificateRefusal(authorized, true, true), undefined);
  assert.equal(clientCertificateRefusal({}, true, true)?.code, 554);
  assert.deepEqual(clientCertificateRefusal({}, true, false), {
    code: 451,
    enhanced: '4.7.1',
    text: 'TLS with a client certificate is required',
  });
});

/** A trusted-MX listener with no checks, requiring client certificates from the registrar. */
async function trustedListener(
  t: TestContext,
  registrar: Registrar,
  implicitTls: boolean,
  withCrl = true,
): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'outpost-trusted-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const store = await openSqliteStore({ path: join(dataDir, 'q.db'), bodiesDir: join(dataDir, 'bodies') });
  t.after(() => store.close());
  const logger = silentLogger();
  const policy = new ListenerPolicy({
    checks: [],
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    dnsBudget: 10,
    softBounce: false,
    refuseAtGreeting: true,
    logger,
  });
  const handlers = mxTrustedHandlers(
    {
      listenerName: 'mx-trusted',
      hostname: () => 'mx1.receiver.test',
      recipients: new LocalRecipients(new Set(['receiver.test']), store),
      store,
      policy,
      logger,
      onQueued: () => {},
    },
    { requireClientCert: true, implicitTls },
  );
  const clientCerts = await clientCertTls({
    clientCa: registrar.caFile,
    ...(withCrl ? { clientCrl: registrar.crlFile } : {}),
    requireClientCert: true,
  });
  const server = createSmtpServer(
    { ...TEST_OPTIONS, implicitTls, tls: { ...registrar.server, ...clientCerts } },
    handlers,
  );
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(() => server.close({ timeoutMs: 0 }));
  return port;
}

test('registrar certificates on an implicit-TLS trusted MX: only accredited, unrevoked clients are greeted', {
  skip: hasOpenssl() ? false : 'the openssl command is not installed',
}, async (t) => {
  const registrar = makeRegistrar();
  t.after(() => removeRegistrar(registrar));
  const port = await trustedListener(t, registrar, true);
  const greet = async (cert?: { key: Buffer; cert: Buffer }) => {
    const client = await smtpConnect(port, '127.0.0.1', { tls: true, ...cert });
    t.after(() => client.close());
    return client.greeting;
  };
  assert.equal((await greet(registrar.accredited)).code, 220);
  for (const [who, cert] of [
    ['revoked', registrar.revoked],
    ['stranger', registrar.stranger],
    ['no certificate', undefined],
  ] as const) {
    const greeting = await greet(cert);
    assert.equal(greeting.code, 554, who);
    assert.equal(greeting.enhanced, '5.7.1', who);
  }
  const withoutCrl = await trustedListener(t, registrar, true, false);
  const revoked = await smtpConnect(withoutCrl, '127.0.0.1', { tls: true, ...registrar.revoked });
  t.after(() => revoked.close());
  assert.equal(revoked.greeting.code, 220, 'it is the CRL that refuses the revoked certificate');
});

test('registrar certificates after STARTTLS: MAIL gets 451 4.7.1 unless the certificate is accredited', {
  skip: hasOpenssl() ? false : 'the openssl command is not installed',
}, async (t) => {
  const registrar = makeRegistrar();
  t.after(() => removeRegistrar(registrar));
  const port = await trustedListener(t, registrar, false);
  const mailAfterTls = async (cert?: { key: Buffer; cert: Buffer }) => {
    const client = await smtpConnect(port);
    t.after(() => client.close());
    await client.send('EHLO mail.good.test');
    if (cert !== undefined) {
      assert.equal((await client.startTls(cert)).code, 220);
      await client.send('EHLO mail.good.test');
    }
    return client.send('MAIL FROM:<a@good.test>');
  };
  assert.equal((await mailAfterTls(registrar.accredited)).code, 250);
  const plaintext = await mailAfterTls();
  assert.equal(plaintext.code, 451);
  assert.equal(plaintext.enhanced, '4.7.1');
  assert.equal((await mailAfterTls(registrar.revoked)).code, 451);
});
