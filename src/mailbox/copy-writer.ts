/**
 * Writes a delivered message into its recipients' MH folders: one temp file per recipient
 * (trace lines, then the body), then `link()` under the next number. Runs on the store's
 * delivery thread, so its synchronous file calls never stall the SMTP sessions.
 */
import * as fs from 'node:fs';
import type { MailboxName } from './address.js';
import { folderPath, type TempNames } from './layout.js';
import { isCode, MhFolder, removeIfPresent, SmallFiles } from './mh-folder.js';
import { traceHeader, type Trace } from './trace.js';

/** One message to store; every field survives `postMessage`. */
export interface DeliveryRequest {
  readonly id: number;
  /** Reverse path without brackets; '' for the null sender. */
  readonly from: string;
  readonly to: readonly MailboxName[];
  readonly trace: Trace;
  /** The body bytes, or the temp file a large body was streamed to. */
  readonly body: Uint8Array | { readonly file: string };
}

export type CopyResult = { ok: true; number: number; size: number } | { ok: false; message: string; code?: string };

export interface DeliveryReply {
  readonly id: number;
  /** In the order of `DeliveryRequest.to`. */
  readonly results: readonly CopyResult[];
  /**
   * The request's body, moved back: the delivery thread allocates almost nothing, so its
   * garbage collector seldom runs, and bodies left to it would pile up in memory.
   */
  readonly body: DeliveryRequest['body'];
}

/** The transfer list that moves a request's body between threads instead of copying it. */
export function bodyTransfer(body: DeliveryRequest['body']): ArrayBuffer[] {
  return body instanceof Uint8Array ? [body.buffer as ArrayBuffer] : [];
}

/** Sent by the store once nothing is in flight: close the kept files and end the thread. */
export const closeRequest = 'close';

const copyChunkBytes = 1024 * 1024;

export class CopyWriter {
  private readonly smallFiles = new SmallFiles();
  /** Folders made or found already, so a delivery skips the mkdir. */
  private readonly madeFolders = new Set<string>();
  private readonly pendingLinks = new Map<
    string,
    Array<{ temp: string; resolve: (n: number) => void; reject: (e: Error) => void }>
  >();
  constructor(
    private readonly mailDir: string,
    /** This writer's own names, apart from every other live writer's. */
    private readonly tempNames: TempNames,
    private readonly lockToken: string,
  ) {}

  /** Never rejects: each recipient's outcome is in the results. */
  async deliver(request: DeliveryRequest): Promise<CopyResult[]> {
    const temps: string[] = [];
    try {
      // Every copy is written before any is linked: a failure (disk full) then stores nothing.
      const sizes: number[] = [];
      for (const recipient of request.to) {
        const header = traceHeader(request.trace, request.from, recipient.address);
        const temp = this.tempNames.next();
        temps.push(temp);
        sizes.push(header.length + writeCopy(temp, header, request.body));
      }
      // Settled, not all: the temp files must outlive every link attempt, failed or not.
      const linked = await Promise.allSettled(request.to.map((recipient, i) => this.addToFolder(recipient, temps[i])));
      return linked.map((result, i) =>
        result.status === 'fulfilled' ? { ok: true, number: result.value, size: sizes[i] } : failure(result.reason),
      );
    } catch (error) {
      return request.to.map(() => failure(error));
    } finally {
      for (const temp of temps) removeIfPresent(temp);
    }
  }

  close(): void {
    this.smallFiles.closeAll();
  }

  /**
   * Links a finished temp file into the mailbox's folder. Files for one folder that finish in
   * the same turn of the event loop (concurrent senders) go in under one lock, with one update
   * of `.mh_highwater` and `.mh_sequences` for all of them.
   */
  private addToFolder(mailbox: MailboxName, temp: string): Promise<number> {
    const dir = folderPath(this.mailDir, mailbox);
    return new Promise((resolve, reject) => {
      let batch = this.pendingLinks.get(dir);
      if (!batch) {
        batch = [];
        this.pendingLinks.set(dir, batch);
        setImmediate(() => void this.linkBatch(dir));
      }
      batch.push({ temp, resolve, reject });
    });
  }

  private async linkBatch(dir: string): Promise<void> {
    const batch = this.pendingLinks.get(dir)!;
    this.pendingLinks.delete(dir);
    const temps = batch.map((entry) => entry.temp);
    const folder = new MhFolder(dir, this.lockToken, this.smallFiles);
    try {
      if (!this.madeFolders.has(dir)) {
        fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
        this.madeFolders.add(dir);
      }
      let numbers: number[];
      try {
        numbers = await folder.addMessages(temps);
      } catch (error) {
        // A user may `rm -rf` a folder while we run: make it again, once.
        if (!isCode(error, 'ENOENT') || fs.existsSync(dir)) throw error;
        fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
        numbers = await folder.addMessages(temps);
      }
      batch.forEach((entry, i) => entry.resolve(numbers[i]));
    } catch (error) {
      for (const entry of batch) entry.reject(error as Error);
    }
  }
}

/** Writes the trace header and the body to a new file; returns the body's size. */
function writeCopy(temp: string, header: Buffer, body: DeliveryRequest['body']): number {
  const fd = fs.openSync(temp, 'wx', 0o640);
  try {
    if (body instanceof Uint8Array) {
      const written = fs.writevSync(fd, [header, body]);
      // Short only when the disk fills up: the next write then reports why.
      if (written < header.length + body.length) writeAll(fd, Buffer.concat([header, body]).subarray(written));
      return body.length;
    }
    writeAll(fd, header);
    return appendFile(fd, body.file);
  } finally {
    fs.closeSync(fd);
  }
}

function appendFile(fd: number, source: string): number {
  const input = fs.openSync(source, 'r');
  try {
    const chunk = Buffer.allocUnsafe(copyChunkBytes);
    let copied = 0;
    for (let got; (got = fs.readSync(input, chunk, 0, chunk.length, copied)) > 0; copied += got) {
      writeAll(fd, chunk.subarray(0, got));
    }
    return copied;
  } finally {
    fs.closeSync(input);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += fs.writeSync(fd, bytes, written);
}

function failure(error: unknown): CopyResult {
  const { message, code } = error as NodeJS.ErrnoException;
  return { ok: false, message: String(message ?? error), ...(typeof code === 'string' ? { code } : {}) };
}
