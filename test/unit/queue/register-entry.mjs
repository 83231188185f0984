// Loads a TypeScript file the way bin/outpost.js loads the CLI: tsx registered through its API in
// the main thread only, nothing on the command line.
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
// The script's own arguments then start at argv[2], as they would for bin/outpost.js.
const [script = ''] = process.argv.splice(2, 1);
await import(pathToFileURL(script).href);
