import { createConnection } from 'node:net';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { RuntimeError } from '../errors.js';

/** One piece of container output as the monitor's attach socket frames it. */
export interface AttachFrame {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

const headerLength = 5;
const frameLimit = 1024 * 1024;

/**
 * Splits the attach byte stream into frames: stream id (1 byte: 1 stdout, 2 stderr), length (4 bytes,
 * big-endian), bytes. Keeps an incomplete frame until the rest arrives. Throws {@link RuntimeError}
 * `MONITOR_FAILED` for an unknown stream id or a frame over 1 MiB (the monitor sends at most 16 KiB).
 */
export class AttachFrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Adds received bytes and returns the frames they complete, in order. */
  push(chunk: Buffer): AttachFrame[] {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: AttachFrame[] = [];
    while (buffer.length >= headerLength) {
      const id = buffer[0];
      const length = buffer.readUInt32BE(1);
      if (id !== 1 && id !== 2) {
        throw new RuntimeError('MONITOR_FAILED', `attach: unknown stream id ${id}`);
      }
      if (length > frameLimit) {
        throw new RuntimeError('MONITOR_FAILED', `attach: frame of ${length} bytes is too large`);
      }
      if (buffer.length < headerLength + length) break;
      frames.push({
        stream: id === 1 ? 'stdout' : 'stderr',
        data: Buffer.from(buffer.subarray(headerLength, headerLength + length)),
      });
      buffer = buffer.subarray(headerLength + length);
    }
    this.#pending = Buffer.from(buffer);
    return frames;
  }
}

/** A connection to a monitor's attach socket. */
export interface AttachSession {
  /** The container's stdout from the moment of connecting; ends when the monitor closes the connection. */
  stdout: Readable;
  /** The container's stderr, likewise. */
  stderr: Readable;
  /**
   * Bytes written here go to the container's stdin (dropped unless the monitor was started with `stdin`).
   * `end()` ends this client's input; with `stdinOnce` the monitor then closes the container's stdin.
   */
  stdin: Writable;
  /** Disconnects; stdout and stderr end. */
  close(): void;
}

/**
 * Connects to a monitor's attach socket (`attachSocket` of startMonitor). Resolves once connected.
 * Output is buffered in memory until read; the monitor disconnects a client whose socket buffer fills,
 * so read promptly. Rejects with {@link RuntimeError} `MONITOR_FAILED` when the socket cannot be reached
 * and `ABORTED` when `signal` fires first; after connecting, an abort or a malformed frame destroys
 * stdout and stderr with that error.
 */
export function attachContainer(
  socketPath: string,
  options: { signal?: AbortSignal } = {},
): Promise<AttachSession> {
  const { signal } = options;
  if (signal?.aborted) {
    return Promise.reject(
      new RuntimeError('ABORTED', 'attach: aborted', { path: socketPath, cause: signal.reason }),
    );
  }
  return new Promise<AttachSession>((resolve, reject) => {
    const socket = createConnection({ path: socketPath, allowHalfOpen: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const decoder = new AttachFrameDecoder();
    let connected = false;

    const finish = (error?: RuntimeError): void => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error === undefined) {
        stdout.end();
        stderr.end();
      } else {
        stdout.destroy(error);
        stderr.destroy(error);
      }
    };
    const onAbort = (): void => {
      const error = new RuntimeError('ABORTED', 'attach: aborted', {
        path: socketPath,
        cause: signal?.reason,
      });
      if (!connected) reject(error);
      finish(connected ? error : undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    socket.on('error', (error: NodeJS.ErrnoException) => {
      const wrapped = new RuntimeError('MONITOR_FAILED', `attach: ${error.message}`, {
        path: socketPath,
        errno: error.code,
        cause: error,
      });
      if (!connected) {
        reject(wrapped);
        finish();
      } else {
        finish(wrapped);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: AttachFrame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        finish(error as RuntimeError);
        return;
      }
      for (const frame of frames) (frame.stream === 'stdout' ? stdout : stderr).write(frame.data);
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());

    const stdin = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (socket.destroyed) {
          callback(new RuntimeError('MONITOR_FAILED', 'attach: connection closed', { path: socketPath }));
          return;
        }
        socket.write(chunk, (error) => callback(error ?? null));
      },
      final(callback) {
        if (!socket.destroyed) socket.end();
        callback();
      },
    });

    socket.once('connect', () => {
      connected = true;
      resolve({ stdout, stderr, stdin, close: () => finish() });
    });
  });
}
