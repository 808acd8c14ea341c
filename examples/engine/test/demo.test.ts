import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = join(dirname(fileURLToPath(import.meta.url)), '../demo/build-busybox-image.mjs');
let workDirectory: string | undefined;

afterAll(async () => {
  if (workDirectory !== undefined) await rm(workDirectory, { recursive: true, force: true });
});

// The README's demo command runs this script after set-up; this keeps it from rotting.
describe('demo: build a busybox image into an OCI layout and unpack it', () => {
  it('prints the manifest, unpacks with matching diff IDs, runs sh, and skopeo agrees', async () => {
    const { stdout } = await run(process.execPath, [demo], { timeout: 120_000 });
    const layoutLine = /^image layout: (.+)$/m.exec(stdout);
    expect(layoutLine).not.toBeNull();
    workDirectory = dirname(layoutLine![1]!);
    expect(stdout).toContain('"mediaType": "application/vnd.oci.image.manifest.v1+json"');
    expect(stdout).toMatch(/unpacked layer 0: \d+ bytes, diff ID sha256:[a-f0-9]{64} \(matches the config\)/);
    expect(stdout).toContain('hello from Linux in the unpacked image');
    const tagged = /^tag busybox:demo -> (sha256:[a-f0-9]{64})$/m.exec(stdout)![1];
    expect(stdout).toContain(`-> ${tagged} (same digest)`);
  });
});
