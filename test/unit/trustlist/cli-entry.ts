// Runs only the trustlist commands, the way src/cli/main.ts registers them.
import { Command } from 'commander';
import { registerTrustlistCommands } from '../../../src/cli/trustlist.js';

const program = new Command('outpost');
registerTrustlistCommands(program);
await program.parseAsync(process.argv);
