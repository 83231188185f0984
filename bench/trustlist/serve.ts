// The trust list server as the bench runs it: its own process, so dnsperf and the harness do not
// share its event loop. Usage: tsx bench/trustlist/serve.ts <db file> <zone> <workers>
import { startTrustListServer } from '../../src/trustlist/serve.js';
import { TrustListStore } from '../../src/trustlist/store.js';

const [file = '', zone = 'trust.test', workers = '0'] = process.argv.slice(2);
const store = TrustListStore.open(file);
const server = await startTrustListServer({ store, zone, port: 0, pollMs: 0, udpWorkers: Number(workers) });
process.stdout.write(`ready ${server.port}\n`);
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify(server.stats())}\n`);
  void server.close().then(() => {
    store.close();
    process.exit(0);
  });
});
