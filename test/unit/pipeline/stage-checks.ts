import { z } from 'zod';
import type { Check, CheckRegistration, CheckResult, Stage } from '../../../src/pipeline/check.js';
import type { StageContext } from '../../../src/pipeline/run-stage.js';

const noOptions = z.strictObject({});

/** A registry entry for a tiny in-test check. */
export function fakeCheck(
  name: string,
  run: Check['run'],
  extra: { stage?: Stage; after?: string[]; method?: string; defaults?: CheckRegistration['defaults'] } = {},
): [string, CheckRegistration] {
  const check: Check = {
    name,
    stage: extra.stage ?? 'mail',
    run,
    ...(extra.after === undefined ? {} : { after: extra.after }),
    ...(extra.method === undefined ? {} : { method: extra.method }),
  };
  return [name, { check, optionsSchema: noOptions, defaults: extra.defaults ?? {} }];
}

/** A check that reports `result` at once. */
export const reports =
  (result: CheckResult): Check['run'] =>
  async () =>
    result;

/** A context with nothing in it but what runStage needs; these checks never touch DNS. */
export function emptyContext(): StageContext {
  const unused = () => Promise.reject(new Error('no DNS in this test'));
  return {
    client: { ip: '192.0.2.1', port: 40000 },
    session: {
      id: 's1',
      remoteAddress: '192.0.2.1',
      remotePort: 40000,
      localAddress: '127.0.0.1',
      localPort: 25,
      secure: false,
      esmtp: true,
      state: {},
    },
    dns: {
      resolve: unused,
      resolve4: unused,
      resolve6: unused,
      resolveMx: unused,
      resolveTxt: unused,
      resolvePtr: unused,
      resolveSrv: unused,
      resolveCname: unused,
      reverse: unused,
    },
    earlier: new Map(),
    now: Date.now,
  };
}
