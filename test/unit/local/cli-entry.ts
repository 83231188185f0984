// Runs only the sendmail and mailq commands, as src/cli/main.ts registers them, so these tests do
// not depend on the lead's wiring of main.ts.
import { Command } from 'commander';
import { registerSendmailCommands } from '../../../src/cli/sendmail.js';

const program = new Command('outpost');
registerSendmailCommands(program);
await program.parseAsync(process.argv);
