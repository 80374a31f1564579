/**
 * A worker thread that answers requests: each request gets an id, each reply names it, and the
 * thread may also send notices of its own (log lines). Only a request in flight keeps the
 * process alive; a thread that dies fails the requests it held, and the next request starts a
 * new one. The store's delivery thread and its scan threads are both of this kind.
 */
import { once } from 'node:events';
import type { MessagePort, Transferable, Worker } from 'node:worker_threads';
import { startWorker } from '../worker.js';

/** What goes to the thread: a request, or `close` once nothing is in flight. */
type ThreadMessage<Request> = { readonly id: number; readonly request: Request } | 'close';
/**
 * What comes back: the reply to request `id` (with what the request moved there, moved back only
 * to be freed here, see Answer), why it failed, or a notice.
 */
type ThreadReply<Reply, Notice> =
  | { readonly id: number; readonly reply: Reply; readonly returned?: readonly Transferable[] }
  | { readonly id: number; readonly error: string }
  | { readonly notice: Notice };

interface Pending<Reply> {
  readonly worker: Worker;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

export interface ThreadSpec<Notice> {
  /** The thread's module (no extension), beside `besideUrl` (the caller's `import.meta.url`). */
  readonly besideUrl: string;
  readonly module: string;
  /** What errors call it: "the <label> thread stopped". */
  readonly label: string;
  readonly workerData?: unknown;
  readonly onNotice?: (notice: Notice) => void;
}

export class RequestThread<Request, Reply, Notice = never> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending<Reply>>();
  private lastId = 0;

  constructor(private readonly spec: ThreadSpec<Notice>) {}

  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts the thread now, so that the first request does not wait for it to load. */
  warmUp(): void {
    this.worker ??= this.start();
  }

  request(request: Request, transfer: readonly Transferable[] = []): Promise<Reply> {
    const worker = (this.worker ??= this.start());
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, request } satisfies ThreadMessage<Request>, [...transfer]);
    });
  }

  /** Lets the thread finish (call once nothing is in flight) and waits for it to end. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = once(worker, 'exit');
    // Whoever awaits close() expects the thread's work done, so it must get to run.
    worker.ref();
    worker.postMessage('close' satisfies ThreadMessage<Request>);
    await exited;
  }

  private start(): Worker {
    const worker = startWorker(this.spec.besideUrl, this.spec.module, { workerData: this.spec.workerData });
    let failure = new Error(`the ${this.spec.label} thread stopped`);
    worker.on('message', (message: ThreadReply<Reply, Notice>) => {
      if ('notice' in message) return this.spec.onNotice?.(message.notice);
      const entry = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in message) entry?.reject(new Error(message.error));
      else entry?.resolve(message.reply);
    });
    worker.on('error', (error) => {
      failure = new Error(`the ${this.spec.label} thread failed: ${error.message}`);
      if (this.worker === worker) this.worker = undefined;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, entry] of this.pending) {
        if (entry.worker !== worker) continue;
        this.pending.delete(id);
        entry.reject(failure);
      }
      if (this.pending.size === 0) worker.unref();
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return worker;
  }
}

/** What a handler answers: the reply, and what of it to move rather than copy. */
export interface Answer<Reply> {
  readonly reply: Reply;
  readonly transfer?: readonly Transferable[];
  /**
   * What the request moved to this thread, moved back to be freed there: a thread that allocates
   * little seldom collects garbage, so what it drops stays in memory. It is dropped with the message
   * it arrives in, never reaching the reply's promise: passed on with the reply, a 100 KiB body was
   * often kept into the old generation, and its memory then waited for a major GC (one every ~400
   * messages under smtp-source, against one per run without).
   */
  readonly returned?: readonly Transferable[];
}

/**
 * The thread's side: answers each request with `handle`, and on `close` runs `onClose` and
 * lets the thread end. Call it from the thread's module.
 */
export function serveRequests<Request, Reply>(
  port: MessagePort,
  handle: (request: Request) => Promise<Answer<Reply>> | Answer<Reply>,
  onClose: () => void = () => {},
): void {
  port.on('message', (message: ThreadMessage<Request>) => {
    if (message === 'close') {
      onClose();
      port.close();
      return;
    }
    Promise.resolve()
      .then(() => handle(message.request))
      .then(
        ({ reply, transfer = [], returned = [] }) =>
          port.postMessage({ id: message.id, reply, returned } satisfies ThreadReply<Reply, never>, [
            ...transfer,
            ...returned,
          ]),
        (error: unknown) =>
          port.postMessage({
            id: message.id,
            error: error instanceof Error ? error.message : String(error),
          } satisfies ThreadReply<Reply, never>),
      );
  });
}

/** Sends a notice (not a reply) from the thread's side. */
export function sendNotice<Notice>(port: MessagePort, notice: Notice): void {
  port.postMessage({ notice } satisfies ThreadReply<never, Notice>);
}
