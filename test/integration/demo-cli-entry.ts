// Runs only `outpost demo`, as src/cli/main.ts registers it, so the demo test does not depend on
// the wiring of main.ts.
import { Command } from 'commander';
import { registerDemoCommands } from '../../src/cli/demo.js';

const program = new Command('outpost');
registerDemoCommands(program);
await program.parseAsync(process.argv);
