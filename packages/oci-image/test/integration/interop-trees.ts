// Source trees shared by the interop tests: every kind of entry, plus overlay-upper trees holding whiteouts
// and an opaque directory. Needs root (owners, devices, trusted.* xattrs).
import fs from 'node:fs';
import path from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import { SeededRandom } from '../../src/testing/seeded-random.js';
import { run } from './interop-helpers.js';

/** Makes a directory (and its parents) with this mode and owner. */
export function directory(root: string, relative: string, mode = 0o755, uid = 0, gid = 0): void {
  const absolute = path.join(root, relative);
  fs.mkdirSync(absolute, { recursive: true });
  fs.chownSync(absolute, uid, gid);
  fs.chmodSync(absolute, mode);
}

/** Writes a file with this mode and owner. */
export function file(
  root: string,
  relative: string,
  content: string | Uint8Array,
  mode = 0o644,
  uid = 0,
  gid = 0,
): void {
  const absolute = path.join(root, relative);
  fs.writeFileSync(absolute, content);
  // chown first: it clears setuid and setgid
  fs.chownSync(absolute, uid, gid);
  fs.chmodSync(absolute, mode);
}

/** Layer 1: every kind of entry the tools must agree on. */
export function buildBase(root: string): void {
  const random = new SeededRandom(7);
  fs.mkdirSync(root, { recursive: true });
  directory(root, 'etc');
  file(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
  file(root, 'etc/shadow', 'root:*:19000::::::\n', 0o640, 0, 42);
  directory(root, 'bin');
  file(root, 'bin/tool', random.bytes(64 * 1024), 0o755);
  setAttributeSync(path.join(root, 'bin/tool'), 'user.comment', Buffer.from('from layer 1'));
  file(root, 'bin/su', random.bytes(3000), 0o4755);
  file(root, 'bin/newgrp', random.bytes(2000), 0o2755, 0, 50);
  directory(root, 'usr/lib');
  file(root, 'usr/lib/libx.so.1', random.bytes(5000));
  fs.symlinkSync('libx.so.1', path.join(root, 'usr/lib/libx.so'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'usr/lib/absolute-link'));
  fs.symlinkSync('../../missing', path.join(root, 'usr/lib/dangling'));
  directory(root, 'data');
  file(root, 'data/a', 'shared by two names\n', 0o600, 1000, 1000);
  fs.linkSync(path.join(root, 'data/a'), path.join(root, 'data/b'));
  directory(root, 'home/user', 0o700, 1000, 1000);
  file(root, 'home/user/.profile', 'export PS1=$\n', 0o644, 1000, 1000);
  directory(root, 'tmp', 0o1777);
  directory(root, 'old/sub');
  file(root, 'old/x', 'hidden by the opaque directory of layer 3\n');
  file(root, 'old/sub/y', 'also hidden\n');
  file(root, 'gone.txt', 'whited out in layer 2\n');
  directory(root, 'gonedir/inner');
  file(root, 'gonedir/inner/f', 'whited out with its directory\n');
  directory(root, 'var');
  file(root, 'var/empty', '');
  directory(root, 'run');
  fs.mkdirSync(path.join(root, 'dev'));
  run('mknod', ['-m', '0600', path.join(root, 'run/fifo'), 'p']);
  run('mknod', ['-m', '0666', path.join(root, 'dev/null'), 'c', '1', '3']);
  const deep = 'deep/' + 'a-rather-long-directory-name/'.repeat(5);
  directory(root, deep);
  file(root, `${deep}file-with-a-long-name-and-ünïcödé.txt`, 'pax path\n');
}

/** Layer 2 as an overlay upper dir: two whiteouts (char 0:0), a changed file, a new one. */
export function buildSecond(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  run('mknod', [path.join(root, 'gone.txt'), 'c', '0', '0']);
  run('mknod', [path.join(root, 'gonedir'), 'c', '0', '0']);
  directory(root, 'etc');
  file(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
  directory(root, 'bin');
  file(root, 'bin/new-tool', 'added in layer 2\n', 0o750, 0, 10);
}

/** Layer 3 as an overlay upper dir: an opaque directory, a symlink and a file replaced by other kinds. */
export function buildThird(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  directory(root, 'old');
  setAttributeSync(path.join(root, 'old'), 'trusted.overlay.opaque', Buffer.from('y'));
  file(root, 'old/new.txt', 'the only child of old/ now\n');
  directory(root, 'usr/lib');
  file(root, 'usr/lib/libx.so', 'a file where a symlink was\n');
  directory(root, 'var/empty', 0o711);
  file(root, 'var/empty/inside', 'a directory where a file was\n');
}
