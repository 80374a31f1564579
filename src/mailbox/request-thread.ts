/**
 * A worker thread that answers requests one by one: each request gets an id, each reply names it.
 * Only a request in flight keeps the process alive; a thread that dies fails the requests it
 * held, and the next request starts a new one.
 */
import { once } from 'node:events';
import type { Transferable, Worker } from 'node:worker_threads';
import { startWorker } from '../worker.js';

/** What goes to the thread: a request, or `close` once nothing is in flight. */
export type ThreadMessage<Request> = { readonly id: number; readonly request: Request } | 'close';
/** What comes back: the reply to request `id`, or why it failed. */
export type ThreadReply<Reply> =
  { readonly id: number; readonly reply: Reply } | { readonly id: number; readonly error: string };

interface Pending<Reply> {
  readonly worker: Worker;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

export class RequestThread<Request, Reply> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending<Reply>>();
  private lastId = 0;

  /** `name`: the thread's module, beside `besideUrl` (the caller's `import.meta.url`). */
  constructor(
    private readonly besideUrl: string,
    private readonly name: string,
    private readonly workerData: unknown,
  ) {}

  get inFlight(): number {
    return this.pending.size;
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
    worker.ref();
    worker.postMessage('close' satisfies ThreadMessage<Request>);
    await exited;
  }

  private start(): Worker {
    const worker = startWorker(this.besideUrl, this.name, { workerData: this.workerData });
    let failure = new Error(`the ${this.name} thread stopped`);
    worker.on('message', (message: ThreadReply<Reply>) => {
      const entry = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in message) entry?.reject(new Error(message.error));
      else entry?.resolve(message.reply);
    });
    worker.on('error', (error) => {
      failure = new Error(`the ${this.name} thread failed: ${error.message}`);
      if (this.worker === worker) this.worker = undefined;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, entry] of this.pending) {
        if (entry.worker !== worker) continue;
        this.pending.delete(id);
        entry.reject(failure);
      }
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return worker;
  }
}

/**
 * The thread's side: answers each request with `handle`, and on `close` runs `onClose` and lets
 * the thread end. Call it from the thread's module.
 */
export function serveRequests<Request, Reply>(
  port: import('node:worker_threads').MessagePort,
  handle: (
    request: Request,
  ) => Promise<{ reply: Reply; transfer?: Transferable[] }> | { reply: Reply; transfer?: Transferable[] },
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
        ({ reply, transfer }) =>
          port.postMessage({ id: message.id, reply } satisfies ThreadReply<Reply>, transfer ?? []),
        (error: unknown) =>
          port.postMessage({
            id: message.id,
            error: error instanceof Error ? error.message : String(error),
          } satisfies ThreadReply<Reply>),
      );
  });
}
