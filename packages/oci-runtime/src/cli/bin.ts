/** Entry point of the `ocikit-runtime` executable (dist/cli.cjs runs this bundle). */
import { runCli } from './main.js';

const prime = process.env.OCIKIT_CLI_PRIME;
const done = (code: number): never => process.exit(code);
// The build's code-cache training run (src/cli/prime.ts); loaded only then.
const run =
  prime === undefined || prime === ''
    ? runCli(process.argv.slice(2))
    : import('./prime.js').then(({ primeCli }) => primeCli(prime));
run.then(done, () => done(1));
