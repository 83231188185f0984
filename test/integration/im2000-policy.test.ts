import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { createNoticePolicy } from '../../src/im2000/policy.js';
import type { OutgoingMessage } from '../../src/im2000/protocol.js';
import { eventually, im2000World } from '../unit/im2000/world.js';

const DAY = 86_400_000;
const MESSAGE = Buffer.from('From: x\r\nSubject: hello\r\n\r\nhi\r\n');

/** A small RDAP server on loopback: GET /domain/<name> with a registration event, 404 otherwise. */
async function startRdap(t: TestContext, registered: Record<string, number>): Promise<string> {
  const server = createServer((request, response) => {
    const name = /^\/domain\/([^/?]+)$/.exec(request.url ?? '')?.[1];
    const at = name === undefined ? undefined : registered[decodeURIComponent(name)];
    if (at === undefined) {
      response.writeHead(404, { 'content-type': 'application/rdap+json' }).end('{"errorCode":404}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/rdap+json' }).end(
      JSON.stringify({
        objectClassName: 'domain',
        ldhName: name,
        events: [
          { eventAction: 'last changed', eventDate: new Date(Date.now() - DAY).toISOString() },
          { eventAction: 'registration', eventDate: new Date(at).toISOString() },
        ],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test('notice policy: a too young domain (RDAP) and a post office without reverse DNS are refused', async (t) => {
  const rdap = await startRdap(t, {
    'alice.example': Date.now() - 400 * DAY,
    'young.example': Date.now() - 10 * DAY,
    'noptr.example': Date.now() - 400 * DAY,
  });
  const world = await im2000World(t, {
    offices: [
      { domain: 'alice.example', ip: '127.0.0.2', users: ['alice'] },
      { domain: 'young.example', ip: '127.0.0.4', users: ['mallory'] },
      { domain: 'noptr.example', ip: '127.0.0.5', users: ['nemo'], ptr: false },
      { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'], start: false },
    ],
  });
  const bob = world.office('bob.example');
  bob.options = {
    policy: createNoticePolicy({ dns: world.dns.resolver, minDomainAgeMs: 90 * DAY, rdapBaseUrl: rdap }),
  };
  await bob.start();
  const sendFrom = (domain: string, user: string) =>
    world
      .office(domain)
      .running()
      .send({ from: `${user}@${domain}`, to: ['bob@bob.example'], message: MESSAGE });
  const finalStatus = (domain: string, id: string) =>
    eventually(() => {
      const status = world.office(domain).running().status(id).recipients[0];
      return status && ['receipted', 'refused'].includes(status.status) ? status : undefined;
    }, `final status of ${domain}`);

  const young = await sendFrom('young.example', 'mallory');
  const noPtr = await sendFrom('noptr.example', 'nemo');
  const old = await sendFrom('alice.example', 'alice');
  assert.deepEqual(
    {
      status: (await finalStatus('young.example', young.id)).status,
      error: (await finalStatus('young.example', young.id)).lastError,
    },
    { status: 'refused', error: 'POLICY_REJECT' },
  );
  assert.equal((await finalStatus('noptr.example', noPtr.id)).lastError, 'POLICY_REJECT');
  assert.equal((await finalStatus('alice.example', old.id)).status, 'receipted');
  assert.equal((await bob.inbox('bob')).length, 1);
});

test('gateway: a recipient domain without a post office goes to the SMTP fallback and shows status smtp', async (t) => {
  const handed: OutgoingMessage[] = [];
  const world = await im2000World(t, {
    zone: '$ORIGIN smtp-only.example.\n@ SOA ns.smtp-only.example. hostmaster.smtp-only.example. 1 3600 600 86400 300\n@ MX 10 mx\nmx A 127.0.0.9\n',
    offices: [
      {
        domain: 'alice.example',
        ip: '127.0.0.2',
        users: ['alice'],
        options: { smtpFallback: async (message) => void handed.push(message) },
      },
      { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'] },
    ],
  });
  const alice = world.office('alice.example').running();
  const { id } = await alice.send({
    from: 'alice@alice.example',
    to: ['bob@bob.example', 'carol@smtp-only.example'],
    message: MESSAGE,
  });
  await eventually(
    () => alice.status(id).recipients.every((r) => ['receipted', 'smtp'].includes(r.status)),
    'both recipients done',
  );
  assert.deepEqual(
    alice.status(id).recipients.map((r) => [r.address, r.status]),
    [
      ['bob@bob.example', 'receipted'],
      ['carol@smtp-only.example', 'smtp'],
    ],
  );
  assert.equal(handed.length, 1);
  assert.deepEqual(handed[0]?.to, ['carol@smtp-only.example']);
  assert.ok(handed[0]?.message.equals(MESSAGE));
});

test('plain HTTP mode works end to end (for benchmarks and TLS-terminating proxies)', async (t) => {
  const world = await im2000World(t, {
    tls: false,
    offices: [
      { domain: 'alice.example', ip: '127.0.0.2', users: ['alice'] },
      { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'] },
    ],
  });
  const alice = world.office('alice.example').running();
  const { id } = await alice.send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: MESSAGE });
  await eventually(() => alice.status(id).recipients[0]?.status === 'receipted', 'the receipt');
  assert.equal((await world.office('bob.example').inbox('bob')).length, 1);
});
