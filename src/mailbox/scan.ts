/**
 * Reading stored messages for the index: a file's size, arrival time, trace lines and summary.
 * `readMessageFile` runs on the scan threads (see `ScanPool`), so that indexing a MAIL_DIR that
 * already holds 100,000 messages leaves the main thread free to serve.
 */
import { availableParallelism } from 'node:os';
import { RequestThread } from './request-thread.js';
import type { MessageSummary } from './reader.js';
import type { TraceInfo } from './trace.js';

/**
 * The search text is for the store's text file (see search-texts.ts), not to be kept beside the
 * summary. A thread reads it as a string; what reaches the main thread is the message's records
 * there (its snippet and search text), a view of the reply's one buffer (see `encodeSearchTexts`).
 */
export interface ScannedFile<Text = Uint8Array> {
  readonly summary: MessageSummary;
  readonly searchText: Text;
  readonly size: number;
  readonly mtime: Date;
  readonly trace: TraceInfo;
  /** Octets as served with CRLF line ends. */
  readonly servedSize: number;
}

/** `gone`: deleted meanwhile, or not a regular file (a symlink is never read). */
export type ScanResult<Text = Uint8Array> = ScannedFile<Text> | { readonly gone: true } | { readonly error: string };

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
    const results: ScanResult[] = [];
    await this.readEach(paths, (batch) => results.push(...batch));
    return results;
  }

  /**
   * Reads every file, in parallel batches, handing each batch to `take` (in the order of
   * `paths`; `first` is the index of its first file) as soon as it and those before it are in.
   * Results taken at once die young: held until a whole folder is read, 100,000 of them (3 KiB
   * each) outlived the scavenges and filled the old generation with garbage at the first scan.
   */
  async readEach(paths: readonly string[], take: (batch: readonly ScanResult[], first: number) => void): Promise<void> {
    clearTimeout(this.idle);
    this.reading++;
    try {
      await this.readInBatches(paths, take);
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

  private async readInBatches(
    paths: readonly string[],
    take: (batch: readonly ScanResult[], first: number) => void,
  ): Promise<void> {
    const arrived: Array<readonly ScanResult[] | undefined> = [];
    let next = 0;
    const requests: Array<Promise<void>> = [];
    for (let start = 0; start < paths.length; start += batchSize) {
      const thread = this.threads.reduce((idlest, candidate) =>
        candidate.inFlight < idlest.inFlight ? candidate : idlest,
      );
      const batch = paths.slice(start, start + batchSize);
      const position = start / batchSize;
      const settle = (files: readonly ScanResult[]) => {
        arrived[position] = files;
        for (let ready = arrived[next]; ready !== undefined; ready = arrived[next]) {
          arrived[next] = undefined;
          take(ready, next++ * batchSize);
        }
      };
      requests.push(
        thread.request({ paths: batch }).then(
          (reply) => settle(reply.files),
          (error: Error) => settle(batch.map(() => ({ error: error.message }))),
        ),
      );
    }
    await Promise.all(requests);
  }

  private async endThreads(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.close()));
  }
}
