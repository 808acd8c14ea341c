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
    // The CLI: one self-contained ESM file (zod bundled in, loaded lazily by the commands that parse).
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    sourcemap: false,
    target: 'node20',
    noExternal: [/.*/],
    splitting: false,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
