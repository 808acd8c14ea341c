/** Entry point of the `ocikit-runtime` executable (dist/cli.js). */
import { runCli } from './main.js';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  () => process.exit(1),
);
