import { Command } from 'commander';
import { registerAliasCommands } from './alias.js';
import { registerChallengeCommands } from './challenge.js';
import { registerConfigCommands } from './config.js';
import { registerDemoCommands } from './demo.js';
import { registerDkimCommands } from './dkim.js';
import { registerDnsCommands } from './dns.js';
import { registerDnsRecordsCommand } from './dns-records.js';
import { registerFeedCommands } from './feed.js';
import { registerGenCommands } from './gen.js';
import { registerIm2000Commands } from './im2000.js';
import { registerQueueCommands } from './queue.js';
import { registerSendmailCommands } from './sendmail.js';
import { registerServeCommands } from './serve.js';
import { registerTrustlistCommands } from './trustlist.js';
import { registerUserCommands } from './user.js';
import { registerUserSetCommand } from './user-set.js';

const program = new Command('outpost')
  .description('outpost: an accountable Internet mail post office')
  .version('0.1.0')
  .showHelpAfterError('(run "outpost help" for the commands)');

program.configureOutput({
  writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `outpost: ${text}` : text),
});

registerServeCommands(program);
registerConfigCommands(program);
registerUserSetCommand(registerUserCommands(program));
registerQueueCommands(program);
registerDnsRecordsCommand(registerDnsCommands(program));
registerDkimCommands(program);
registerGenCommands(program);
registerTrustlistCommands(program);
registerAliasCommands(program);
registerChallengeCommands(program);
registerIm2000Commands(program);
registerFeedCommands(program);
registerSendmailCommands(program);
registerDemoCommands(program);

await program.parseAsync(process.argv);
