/**
 * Writes delivered messages into their recipients' MH folders: one temp file per recipient
 * (trace lines, then the body), then `link()` under the next number. Runs on the store's
 * delivery thread, so its synchronous file calls never stall the SMTP sessions.
 *
 * Every transaction shares this one thread, so the work is cut into steps (write one copy,
 * link one copy) taken round-robin across the transactions in hand, and the thread yields (new
 * requests come in, pending links run) after each slice of about a megabyte of work. A message
 * to 1,000 recipients then holds a one-recipient message back for a slice or two, not for the
 * whole gigabyte. A small message fits in one slice, so it goes as it always did: every copy
 * written, then all linked in the next turn, batched per folder with other messages' copies.
 */
import * as fs from 'node:fs';
import type { MailboxName } from './address.js';
import type { LogLine } from './dot-lock.js';
import { folderPath, type TempNames } from './layout.js';
import { isCode, removeIfPresent, type MailDir } from './mail-dir.js';
import { MhFolder, writeAll, type FolderContext } from './mh-folder.js';
import { traceHeader, type Trace } from './trace.js';

/** One message to store; every field survives `postMessage`. */
export interface DeliveryRequest {
  /** Reverse path without brackets; '' for the null sender. */
  readonly from: string;
  readonly to: readonly MailboxName[];
  readonly trace: Trace;
  /** The body bytes, or the temp file a large body was streamed to. */
  readonly body: Uint8Array | { readonly file: string };
}

/** What a delivery stored: a copy for every recipient, in the order of `to`, or (all or nothing) none. */
export type DeliveryOutcome =
  | { readonly ok: true; readonly copies: ReadonlyArray<{ readonly number: number; readonly size: number }> }
  | { readonly ok: false; readonly message: string; readonly code?: string };

/** What the delivery thread sends besides replies: a line for the store's log. */
export interface DeliveryLog {
  readonly level: Parameters<LogLine>[0];
  readonly message: string;
}

/** The transfer list that moves a request's body between threads instead of copying it. */
export function bodyTransfer(body: DeliveryRequest['body']): ArrayBuffer[] {
  return body instanceof Uint8Array ? [body.buffer as ArrayBuffer] : [];
}

/** Work done before the thread yields, in bytes written; a file created or linked counts as `fileCost` more. */
const sliceBytes = 1024 * 1024;
const fileCost = 16 * 1024;
const copyChunkBytes = 1024 * 1024;

/** A transaction in hand: its copies written so far, then their links. */
class Job {
  readonly temps: string[] = [];
  /** Of each copy written, trace lines included. */
  readonly sizes: number[] = [];
  readonly links: Array<Promise<number>> = [];
  failure: { error: unknown } | undefined;

  constructor(
    readonly request: DeliveryRequest,
    readonly settle: (outcome: DeliveryOutcome) => void,
  ) {}

  get finished(): boolean {
    return this.failure !== undefined || this.links.length === this.request.to.length;
  }
}

interface PendingLink {
  readonly temp: string;
  readonly resolve: (n: number) => void;
  readonly reject: (error: unknown) => void;
}

export class CopyWriter {
  /** Copies waiting to be linked, by mailbox address (one per folder): those of one turn go in under one lock. */
  private readonly pendingLinks = new Map<string, { mailbox: MailboxName; links: PendingLink[] }>();
  /** Transactions with steps left, in round-robin order. */
  private readonly queue: Job[] = [];
  private sliceScheduled = false;

  constructor(
    private readonly mailDir: MailDir,
    /** This writer's own names, apart from every other live writer's. */
    private readonly tempNames: TempNames,
    private readonly context: FolderContext,
    private readonly log: LogLine,
  ) {}

  /** Never rejects: the outcome says what was stored. */
  deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    return new Promise((settle) => {
      this.queue.push(new Job(request, settle));
      if (!this.sliceScheduled) this.runSlice();
    });
  }

  close(): void {
    this.context.smallFiles.closeAll();
  }

  private runSlice(): void {
    this.sliceScheduled = false;
    for (let budget = sliceBytes; budget > 0 && this.queue.length > 0;) {
      const job = this.queue.shift()!;
      if (!job.finished) budget -= this.step(job);
      if (job.finished) void this.finish(job);
      else this.queue.push(job);
    }
    if (this.queue.length === 0) return;
    this.sliceScheduled = true;
    setImmediate(() => this.runSlice());
  }

  /** Writes the job's next copy or, once all are written, hands the next one to its folder; returns the work done. */
  private step(job: Job): number {
    const { to } = job.request;
    if (job.sizes.length < to.length) {
      try {
        return this.writeNext(job) + fileCost;
      } catch (error) {
        job.failure = { error };
        return fileCost;
      }
    }
    const next = job.links.length;
    job.links.push(this.addToFolder(to[next], job.temps[next]));
    return fileCost;
  }

  /** Writes the next recipient's copy (trace lines, then the body) to a new temp file; returns its size. */
  private writeNext(job: Job): number {
    const { trace, from, to, body } = job.request;
    const header = traceHeader(trace, from, to[job.sizes.length].address);
    const { file, fd } = this.mailDir.createTemp(this.tempNames);
    job.temps.push(file);
    try {
      const size = header.length + writeCopy(fd, header, body);
      job.sizes.push(size);
      return size;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Settles the job once its links have; never rejects. */
  private async finish(job: Job): Promise<void> {
    let outcome: DeliveryOutcome;
    try {
      const linked = await Promise.allSettled(job.links);
      const failedAt = job.failure ? job.sizes.length : linked.findIndex((result) => result.status === 'rejected');
      if (failedAt < 0) {
        outcome = { ok: true, copies: linked.map((result, i) => ({ number: numberOf(result), size: job.sizes[i] })) };
      } else {
        const error: unknown = job.failure ? job.failure.error : (linked[failedAt] as PromiseRejectedResult).reason;
        outcome = failure(job.request.to[failedAt], error, await this.takeBack(job, linked));
      }
    } catch (error) {
      outcome = failure(job.request.to[0], error, 0);
    }
    for (const temp of job.temps) {
      try {
        removeIfPresent(temp);
      } catch (error) {
        // Logged, never thrown: the outcome is decided, and the next start clears what is left.
        this.warn(`remove ${temp}`, error);
      }
    }
    job.settle(outcome);
  }

  /**
   * All or nothing: when any copy of a message fails, the copies that did land are removed
   * again, under their folders' locks with the sequences fixed. Their numbers stay burned (the
   * high-water mark keeps them), the store announces none of them, and the client gets a 451:
   * its retry then stores each copy once, where keeping them would store some twice. Returns
   * how many were removed.
   */
  private async takeBack(job: Job, linked: ReadonlyArray<PromiseSettledResult<number>>): Promise<number> {
    const byFolder = new Map<string, number[]>();
    linked.forEach((result, i) => {
      if (result.status !== 'fulfilled') return;
      const dir = folderPath(this.mailDir.root, job.request.to[i]);
      byFolder.set(dir, [...(byFolder.get(dir) ?? []), result.value]);
    });
    let removed = 0;
    for (const [dir, numbers] of byFolder) {
      try {
        await new MhFolder(dir, this.context).removeMessages(numbers);
        removed += numbers.length;
      } catch (error) {
        this.warn(
          `remove ${numbers.join(', ')} from ${dir} (a retry of the failed message will store it again)`,
          error,
        );
      }
    }
    return removed;
  }

  private warn(what: string, error: unknown): void {
    this.log('warning', `could not ${what}: ${error instanceof Error ? error.message : String(error)}`);
  }

  /**
   * Links a finished temp file into the mailbox's folder. Files for one folder that finish in
   * the same turn of the event loop (concurrent senders) go in under one lock, with one update
   * of `.mh_highwater` and `.mh_sequences` for all of them.
   */
  private addToFolder(mailbox: MailboxName, temp: string): Promise<number> {
    return new Promise((resolve, reject) => {
      let batch = this.pendingLinks.get(mailbox.address);
      if (!batch) {
        batch = { mailbox, links: [] };
        this.pendingLinks.set(mailbox.address, batch);
        setImmediate(() => void this.linkBatch(mailbox.address));
      }
      batch.links.push({ temp, resolve, reject });
    });
  }

  private async linkBatch(address: string): Promise<void> {
    const { mailbox, links } = this.pendingLinks.get(address)!;
    this.pendingLinks.delete(address);
    try {
      const results = await this.addInFolder(
        mailbox,
        links.map((link) => link.temp),
      );
      results.forEach((result, i) =>
        result.status === 'fulfilled' ? links[i].resolve(result.value) : links[i].reject(result.reason),
      );
    } catch (error) {
      for (const link of links) link.reject(error);
    }
  }

  /** Adds temp files to the mailbox's folder. After a failure the folder's path is checked again on next use. */
  private async addInFolder(mailbox: MailboxName, temps: readonly string[]) {
    const dir = this.mailDir.folder(mailbox);
    try {
      return await new MhFolder(dir, this.context).addMessages(temps);
    } catch (error) {
      this.mailDir.forget(dir);
      // A user may `rm -rf` a folder (or all of MAIL_DIR) while we run: make it again, once.
      if (!isCode(error, 'ENOENT')) throw error;
      return await new MhFolder(this.mailDir.folder(mailbox), this.context).addMessages(temps);
    }
  }
}

/** Writes the trace header and the body; returns the body's size. */
function writeCopy(fd: number, header: Buffer, body: DeliveryRequest['body']): number {
  if (body instanceof Uint8Array) {
    const written = fs.writevSync(fd, [header, body]);
    // Short only when the disk fills up: the next write then reports why.
    if (written < header.length + body.length) writeAll(fd, Buffer.concat([header, body]).subarray(written), null);
    return body.length;
  }
  writeAll(fd, header, null);
  return appendFile(fd, body.file);
}

function appendFile(fd: number, source: string): number {
  const input = fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const chunk = Buffer.allocUnsafe(copyChunkBytes);
    let copied = 0;
    for (let got; (got = fs.readSync(input, chunk, 0, chunk.length, copied)) > 0; copied += got) {
      writeAll(fd, chunk.subarray(0, got), null);
    }
    return copied;
  } finally {
    fs.closeSync(input);
  }
}

function numberOf(result: PromiseSettledResult<number>): number {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

function failure(recipient: MailboxName, error: unknown, removed: number): DeliveryOutcome {
  const { message, code } = error as NodeJS.ErrnoException;
  const takenBack =
    removed === 0
      ? ''
      : `; the ${removed} ${removed === 1 ? 'copy' : 'copies'} stored for other recipients removed again`;
  return {
    ok: false,
    message: `${recipient.address}: ${String(message ?? error)}${takenBack}`,
    ...(typeof code === 'string' ? { code } : {}),
  };
}
