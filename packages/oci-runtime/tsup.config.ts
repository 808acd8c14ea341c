import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    shims: true,
    target: 'node20',
  },
  {
    // The CLI body: one self-contained CommonJS file (zod bundled in, evaluated only when a spec fails the
    // generated parser). scripts/bundle-cli.mjs then makes dist/cli-body.cjs of it, run by the launcher
    // dist/cli.cjs with a V8 code cache.
    entry: { 'cli-bundle': 'src/cli/bin.ts' },
    format: ['cjs'],
    dts: false,
    clean: false,
    sourcemap: false,
    shims: true,
    target: 'node20',
    // Fewer bytes to read at every start-up; names are kept, so stack traces stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    noExternal: [/.*/],
    splitting: false,
    onSuccess: 'node scripts/bundle-cli.mjs',
  },
]);
