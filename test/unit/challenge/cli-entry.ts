// Runs the challenge command group on its own, the way src/cli/main.ts registers it.
import { Command } from 'commander';
import { registerChallengeCommands } from '../../../src/cli/challenge.js';

const program = new Command('outpost');
registerChallengeCommands(program);
await program.parseAsync(process.argv);
