/**
 * A message body on its way in: kept in memory while small, streamed to a temp file once large,
 * so memory does not grow with message size.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { DeliveryError } from './errors.js';

/** Bodies up to this size stay in memory; larger ones stream to a temp file as they arrive. */
const spillThreshold = 1024 * 1024;

/** The body as received: the chunks themselves while small (no copy), else the temp file it streamed to. */
export type Body = { size: number } & ({ inMemory: readonly Buffer[] } | { file: string });

/** Where a large body goes: the store's temp files. */
export interface SpillFiles {
  /** A new temp file, open for writing; throws when none can be made. */
  create(): { file: string; fd: number };
  /** Removes a temp file; never rejects (a failure is the store's to log). */
  remove(file: string): Promise<void>;
}

/**
 * Write it chunk by chunk; `write` returns false when the caller should wait for `drain` (the
 * file is behind). Then the store delivers it or it is discarded.
 *
 * When the temp file fails (disk full, read-only, no descriptors left, `.tmp` gone for good),
 * the body is dropped on the spot and its file removed; later chunks are ignored, and `finish`
 * rejects, so the client gets a 451 for this message alone. 'error' is emitted only to a
 * listener: an unheard one must not bring the process down.
 */
export class IncomingMessage extends EventEmitter<{ drain: []; error: [Error] }> {
  size = 0;
  private chunks: Buffer[] = [];
  private spill: { file: string; stream: fs.WriteStream } | undefined;
  /** Why the body cannot be stored, once its temp file failed. */
  private failure: DeliveryError | undefined;
  /** The temp file's removal, once begun. */
  private removal: Promise<void> = Promise.resolve();

  constructor(private readonly files: SpillFiles) {
    super();
  }

  write(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.failure) return true;
    if (this.spill) return this.spill.stream.write(chunk);
    this.chunks.push(chunk);
    return this.size <= spillThreshold || this.startSpill();
  }

  /** Waits until every byte is written; the body as the store copies it. Rejects, the temp file removed, if it failed. */
  async finish(): Promise<Body> {
    if (this.spill && !this.failure) {
      const { stream } = this.spill;
      // A write error reaches fail() (listening since the start), which closes the stream.
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.end(() => resolve());
      });
    }
    if (this.failure) {
      await this.removal;
      throw this.failure;
    }
    return this.spill ? { size: this.size, file: this.spill.file } : { size: this.size, inMemory: this.chunks };
  }

  /** Drops the body; resolves once nothing of it stays on disk (its temp file removed). */
  discard(): Promise<void> {
    this.chunks = [];
    this.removal = this.removeSpill();
    // Nothing is behind any more: whoever waits to send more (a paused socket) may go on.
    this.emit('drain');
    return this.removal;
  }

  private startSpill(): boolean {
    let opened: { file: string; fd: number };
    try {
      opened = this.files.create();
    } catch (error) {
      this.fail(error as Error, 'a temp file for it could not be made');
      return true;
    }
    const stream = fs.createWriteStream(opened.file, { fd: opened.fd });
    stream.on('drain', () => this.emit('drain'));
    stream.on('error', (error) => this.fail(error, `writing it to ${opened.file} failed`));
    this.spill = { file: opened.file, stream };
    const pending = this.chunks;
    this.chunks = [];
    let ready = true;
    for (const buffered of pending) ready = stream.write(buffered);
    return ready;
  }

  private fail(error: Error, what: string): void {
    if (this.failure) return;
    this.failure = new DeliveryError(
      `the message body could not be kept: ${what}: ${error.message}`,
      (error as NodeJS.ErrnoException).code,
    );
    void this.discard();
    if (this.listenerCount('error') > 0) this.emit('error', this.failure);
  }

  private removeSpill(): Promise<void> {
    const spill = this.spill;
    this.spill = undefined;
    if (!spill) return this.removal;
    const { stream, file } = spill;
    // Writes still pending fail once the stream is destroyed: expected, and nobody is waiting for them.
    stream.removeAllListeners('error').on('error', () => {});
    return new Promise<void>((resolve) => {
      if (stream.closed) resolve();
      else stream.once('close', () => resolve()).destroy();
    }).then(() => this.files.remove(file));
  }
}
