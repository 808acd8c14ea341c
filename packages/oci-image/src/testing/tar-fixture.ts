import tar from 'tar-stream';

/** One entry of an in-memory tar fixture. */
export interface TarFixtureEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: Uint8Array | string;
  linkname?: string;
  mode?: number;
  /** Seconds since the epoch (default 0, for reproducible bytes). */
  mtime?: number;
}

/** Builds an uncompressed tar archive in memory with tar-stream (deterministic for the same entries). */
export async function buildTar(entries: readonly TarFixtureEntry[]): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const mtime = new Date((entry.mtime ?? 0) * 1000);
    if (type === 'file') {
      const content =
        typeof entry.content === 'string' ? Buffer.from(entry.content) : Buffer.from(entry.content ?? []);
      await new Promise<void>((resolve, reject) => {
        pack.entry(
          { name: entry.name, type, mode: entry.mode ?? 0o644, mtime, uid: 0, gid: 0 },
          content,
          (error) => (error ? reject(error) : resolve()),
        );
      });
    } else {
      const header: Partial<tar.Header> & { name: string } = {
        name: entry.name,
        type,
        mode: entry.mode ?? 0o755,
        mtime,
        uid: 0,
        gid: 0,
      };
      if (type === 'symlink') header.linkname = entry.linkname ?? '';
      pack.entry(header);
    }
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}
