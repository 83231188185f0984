import { Command } from 'commander';
import { registerConfigCommands } from './config.js';
import { registerDkimCommands } from './dkim.js';
import { registerDnsCommands } from './dns.js';
import { registerDnsRecordsCommand } from './dns-records.js';
import { registerGenCommands } from './gen.js';
import { registerQueueCommands } from './queue.js';
import { registerServeCommands } from './serve.js';
import { registerTrustlistCommands } from './trustlist.js';
import { registerUserCommands } from './user.js';

const program = new Command('outpost')
  .description('outpost: an accountable Internet mail post office')
  .version('0.1.0')
  .showHelpAfterError('(run "outpost help" for the commands)');

program.configureOutput({
  writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `outpost: ${text}` : text),
});

registerServeCommands(program);
registerConfigCommands(program);
registerUserCommands(program);
registerQueueCommands(program);
registerDnsRecordsCommand(registerDnsCommands(program));
registerDkimCommands(program);
registerGenCommands(program);
registerTrustlistCommands(program);

await program.parseAsync(process.argv);
