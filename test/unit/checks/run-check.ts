import type { CheckContext, CheckResult, Stage } from '../../../src/pipeline/check.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { createMessageDns } from '../../../src/pipeline/dns-view.js';
import { runStage, type StageOutcome } from '../../../src/pipeline/run-stage.js';
import type { TestDns } from '../../helpers/dns.js';

/** What a test says about the SMTP side; everything else gets a plain default. */
export interface Scenario {
  clientIp: string;
  helo?: string;
  mailFrom?: string;
}

/** Runs one configured check the way a listener does: compiled from its block, through runStage. */
export async function runConfiguredCheck(
  dns: Pick<TestDns, 'resolver'>,
  stage: Stage,
  block: Record<string, unknown>,
  scenario: Scenario,
): Promise<{ result: CheckResult; outcome: StageOutcome }> {
  const checks = compileChecks([block]);
  const session: CheckContext['session'] = {
    id: 'test-session',
    remoteAddress: scenario.clientIp,
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 25,
    secure: false,
    esmtp: true,
    state: {},
    ...(scenario.helo === undefined ? {} : { helo: scenario.helo }),
  };
  const outcome = await runStage(stage, checks, {
    client: { ip: scenario.clientIp, port: 40000 },
    session,
    ...(scenario.helo === undefined ? {} : { helo: scenario.helo }),
    ...(scenario.mailFrom === undefined ? {} : { mailFrom: scenario.mailFrom }),
    dns: createMessageDns(dns.resolver),
    earlier: new Map(),
    now: Date.now,
  });
  const [result] = outcome.results.values();
  if (result === undefined) throw new Error(`check ${String(block.use)} did not run at stage ${stage}`);
  return { result, outcome };
}
