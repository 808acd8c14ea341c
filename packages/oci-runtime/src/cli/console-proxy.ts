import { createReadStream, createWriteStream, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { nativeSyscalls } from '../native.js';

/** A private console socket for a foreground `run`/`exec` with a terminal. */
export interface ConsoleReceiver {
  /** Pass as the console socket. */
  socketPath: string;
  /** The pty master, once the container sent it. */
  master: Promise<number>;
  /** Removes the socket directory. */
  close(): Promise<void>;
}

/** Listens on a fresh unix socket in a temp directory for one pty master (SCM_RIGHTS). */
export async function openConsoleReceiver(): Promise<ConsoleReceiver> {
  const dir = await mkdtemp(join(tmpdir(), 'ocikit-console-'));
  const socketPath = join(dir, 'console.sock');
  const sys = nativeSyscalls();
  const listenFd = sys.listenUnix(socketPath);
  const master = sys.acceptFd(listenFd).finally(() => sys.closeFd(listenFd));
  return { socketPath, master, close: () => rm(dir, { recursive: true, force: true }) };
}

/** Relays the pty master to this process's stdio until the container's side closes. */
export async function proxyConsole(masterFd: number): Promise<void> {
  const fromMaster = createReadStream('', { fd: masterFd, autoClose: false });
  const toMaster = createWriteStream('', { fd: masterFd, autoClose: false });
  // A terminal on our side goes raw so keys reach the container's pty unprocessed.
  const raw = isatty(0);
  if (raw) process.stdin.setRawMode(true);
  const stdin = raw ? process.stdin : createReadStream('', { fd: 0, autoClose: false });
  stdin.on('data', (chunk: Buffer | string) => toMaster.write(chunk));
  stdin.on('error', () => undefined);
  await new Promise<void>((resolveDone) => {
    fromMaster.on('data', (chunk) => {
      try {
        writeSync(1, chunk as Buffer);
      } catch {
        // stdout closed: keep draining
      }
    });
    fromMaster.on('error', () => resolveDone());
    fromMaster.on('end', () => resolveDone());
  });
  if (raw) {
    process.stdin.setRawMode(false);
    process.stdin.pause();
  } else {
    (stdin as ReturnType<typeof createReadStream>).destroy();
  }
}
