import { LayoutProvider } from './layout-provider.js';

/**
 * OCI image layout directories. `open(dir)` does no I/O (the first call checks the layout);
 * `create(dir)` makes the directory, `oci-layout` and an empty `index.json` when absent (an existing
 * valid layout is kept as it is).
 */
export const layout = {
  /** A provider over an existing layout directory; lazy. */
  open(directory: string): LayoutProvider {
    return new LayoutProvider(directory);
  },
  /** Creates (or reuses) a layout directory. Throws `INVALID_LAYOUT` for an incompatible existing one. */
  async create(
    directory: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<LayoutProvider> {
    const provider = new LayoutProvider(directory);
    await provider.initialise(options);
    return provider;
  },
} as const;
