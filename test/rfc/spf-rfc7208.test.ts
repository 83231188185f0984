import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { CheckContext } from '../../src/pipeline/check.js';
import { compileChecks } from '../../src/pipeline/config.js';
import { createMessageDns } from '../../src/pipeline/dns-view.js';
import { runStage } from '../../src/pipeline/run-stage.js';
import { startSuiteDns, suiteWorld } from './suite-dns.js';
import { parseYamlDocuments, type YamlValue } from './yaml-subset.js';

// The RFC 7208 test suite (openspf.org release 2014.04, as shipped by Debian's python3-spf): 16
// documents, each with its own zone data, 203 cases. Every case runs through outpost's spf check
// as a listener would run it, against outpost's DNS answering over real UDP packets.
const SUITE = parseYamlDocuments(readFileSync(new URL('./rfc7208-tests.yml', import.meta.url), 'utf8'));
const EXPECTED_DOCUMENTS = 16;
const EXPECTED_CASES = 203;

interface SuiteCase {
  id: string;
  helo: string;
  host: string;
  mailfrom: string;
  /** Acceptable results, the preferred one first. */
  results: string[];
  /** The exp= text expected on fail; 'DEFAULT' means the domain published none that applies. */
  explanation?: string;
}

function field(map: Record<string, YamlValue>, key: string, where: string): string {
  const value = map[key];
  if (typeof value !== 'string') throw new Error(`${where}: '${key}' must be text`);
  return value;
}

function casesOf(document: Record<string, YamlValue>): SuiteCase[] {
  const tests = document.tests;
  if (tests === null || typeof tests !== 'object' || Array.isArray(tests)) throw new Error('tests missing');
  return Object.entries(tests).map(([id, raw]) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new Error(`${id}: not a mapping`);
    const result = raw.result;
    const suiteCase: SuiteCase = {
      id,
      helo: field(raw, 'helo', id),
      host: field(raw, 'host', id),
      mailfrom: field(raw, 'mailfrom', id),
      results: Array.isArray(result) ? result.map(String) : [field(raw, 'result', id)],
    };
    if (typeof raw.explanation === 'string') suiteCase.explanation = raw.explanation;
    return suiteCase;
  });
}

const documents = SUITE.map((document) => {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new Error('a suite document must be a mapping');
  }
  return {
    description: String(document.description),
    world: suiteWorld(document.zonedata ?? null),
    cases: casesOf(document),
  };
});

const spfChecks = compileChecks([{ use: 'spf', receiver: 'receiver.outpost.test' }]);

function sessionFor(ip: string, helo: string): CheckContext['session'] {
  return {
    id: 'rfc7208',
    remoteAddress: ip,
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 25,
    secure: false,
    esmtp: true,
    state: {},
    helo,
  };
}

test('the suite file holds every document and case', () => {
  assert.equal(documents.length, EXPECTED_DOCUMENTS);
  assert.equal(
    documents.reduce((sum, document) => sum + document.cases.length, 0),
    EXPECTED_CASES,
  );
});

for (const document of documents) {
  test(`RFC 7208 suite: ${document.description}`, { concurrency: true }, async (t) => {
    const resolver = await startSuiteDns(t, document.world);
    const cases = document.cases.map((suiteCase) =>
      t.test(suiteCase.id, async () => {
        const outcome = await runStage('mail', spfChecks, {
          client: { ip: suiteCase.host, port: 40000 },
          session: sessionFor(suiteCase.host, suiteCase.helo),
          helo: suiteCase.helo,
          mailFrom: suiteCase.mailfrom,
          // The per-message DNS view with its default budget, as in production.
          dns: createMessageDns(resolver),
          earlier: new Map(),
          now: Date.now,
        });
        const spf = outcome.results.get('spf');
        const detail = outcome.decisions[0]?.detail;
        assert.ok(spf, 'the spf check ran');
        assert.ok(
          suiteCase.results.includes(spf.result),
          `result ${spf.result}, expected ${suiteCase.results.join(' or ')}${detail ? ` (${detail})` : ''}`,
        );
        if (suiteCase.explanation === 'DEFAULT') {
          assert.equal(spf.details?.explanation, undefined, 'no published explanation applies');
        } else if (suiteCase.explanation !== undefined) {
          // One expected explanation differs from the published text only in letter case (a quirk of the suite).
          assert.equal(spf.details?.explanation?.toLowerCase(), suiteCase.explanation.toLowerCase());
        }
      }),
    );
    await Promise.all(cases);
  });
}
