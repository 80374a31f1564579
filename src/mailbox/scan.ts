/**
 * Reading stored messages for the index: a file's size, arrival time, trace lines and summary.
 * `readMessageFile` runs on the scan threads (see `ScanPool`), so that indexing a MAIL_DIR that
 * already holds 100,000 messages leaves the main thread free to serve.
 */
import { availableParallelism } from 'node:os';
import { RequestThread } from './request-thread.js';
import type { Summarized } from './summary.js';
import type { TraceInfo } from './trace.js';

/** The search text is for the store's text file (see search-texts.ts), not to be kept beside the summary. */
export interface ScannedFile extends Summarized {
  readonly size: number;
  readonly mtime: Date;
  readonly trace: TraceInfo;
  /** Octets as served with CRLF line ends. */
  readonly servedSize: number;
}

/** `gone`: deleted meanwhile, or not a regular file (a symlink is never read). */
export type ScanResult = ScannedFile | { readonly gone: true } | { readonly error: string };

export interface ScanRequest {
  readonly paths: readonly string[];
}
export interface ScanReply {
  readonly files: readonly ScanResult[];
}

/** Files per request: enough to make the hop between threads cheap, few enough to spread the work. */
const batchSize = 64;
/**
 * Threads idle this long are ended: their heaps keep what the first scan of a large MAIL_DIR
 * used (about 100 MiB at 100,000 messages). The next read starts them again.
 */
const idleMs = 5000;

/** A few scan threads (one per core, at most 4: at start the main thread mostly waits for them), started when first needed. */
export class ScanPool {
  private readonly threads: Array<RequestThread<ScanRequest, ScanReply>>;
  private reading = 0;
  private idle: NodeJS.Timeout | undefined;

  constructor(size = Math.min(4, availableParallelism())) {
    this.threads = Array.from(
      { length: size },
      () =>
        new RequestThread<ScanRequest, ScanReply>({ besideUrl: import.meta.url, module: 'scan-worker', label: 'scan' }),
    );
  }

  /** Reads every file, in parallel batches; results in the order of `paths`. */
  async read(paths: readonly string[]): Promise<ScanResult[]> {
    clearTimeout(this.idle);
    this.reading++;
    try {
      return await this.readInBatches(paths);
    } finally {
      if (--this.reading === 0) this.idle = setTimeout(() => void this.endThreads(), idleMs).unref();
    }
  }

  /**
   * The burst is over (the first scan of MAIL_DIR): the threads end now rather than after the
   * idle time, unless reads are under way (then they end once idle, as always). Resolves when
   * they are gone, their memory with them.
   */
  async rest(): Promise<void> {
    if (this.reading > 0) return;
    clearTimeout(this.idle);
    await this.endThreads();
  }

  async close(): Promise<void> {
    clearTimeout(this.idle);
    await this.endThreads();
  }

  private async readInBatches(paths: readonly string[]): Promise<ScanResult[]> {
    const batches: Array<Promise<readonly ScanResult[]>> = [];
    for (let start = 0; start < paths.length; start += batchSize) {
      const thread = this.threads.reduce((idlest, candidate) =>
        candidate.inFlight < idlest.inFlight ? candidate : idlest,
      );
      batches.push(
        thread.request({ paths: paths.slice(start, start + batchSize) }).then(
          (reply) => reply.files,
          (error: Error) => paths.slice(start, start + batchSize).map(() => ({ error: error.message })),
        ),
      );
    }
    return (await Promise.all(batches)).flat();
  }

  private async endThreads(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.close()));
  }
}
