/**
 * The store's side of its delivery thread: hands each message to the thread and resolves with
 * what it stored. A thread that dies fails the deliveries it held, and the next delivery starts
 * a new one.
 */
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { startWorker } from '../worker.js';
import {
  bodyTransfer,
  closeRequest,
  type DeliveryLog,
  type DeliveryOutcome,
  type DeliveryReply,
  type DeliveryRequest,
} from './copy-writer.js';
import type { DeliveryWorkerData } from './delivery-worker.js';

interface Pending {
  readonly worker: Worker;
  readonly resolve: (outcome: DeliveryOutcome) => void;
  readonly reject: (error: Error) => void;
}

export class DeliveryThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private lastId = 0;

  constructor(
    private readonly data: DeliveryWorkerData,
    private readonly log: Logger,
  ) {
    this.worker = this.start();
  }

  deliver(request: Omit<DeliveryRequest, 'id'>): Promise<DeliveryOutcome> {
    const worker = (this.worker ??= this.start());
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      // Only a delivery in flight keeps the process alive; an idle thread never does.
      if (this.pending.size === 1) worker.ref();
      // The body is moved, not copied.
      worker.postMessage({ ...request, id } satisfies DeliveryRequest, bodyTransfer(request.body));
    });
  }

  /** Lets the thread close its files and end; call once no delivery is in flight. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = once(worker, 'exit');
    // Whoever awaits close() expects the files closed, so the thread must get to run.
    worker.ref();
    worker.postMessage(closeRequest);
    await exited;
  }

  private start(): Worker {
    const worker = startWorker(import.meta.url, 'delivery-worker', { workerData: this.data });
    let failure = new Error('the delivery thread stopped');
    worker.on('message', (message: DeliveryReply | DeliveryLog) => {
      if ('level' in message) return this.log[message.level](message.message);
      const entry = this.pending.get(message.id);
      this.pending.delete(message.id);
      this.afterSettled(worker);
      entry?.resolve(message.outcome);
    });
    worker.on('error', (error) => {
      failure = new Error(`the delivery thread failed: ${error.message}`);
      if (this.worker === worker) this.worker = undefined;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, entry] of this.pending) {
        if (entry.worker !== worker) continue;
        this.pending.delete(id);
        entry.reject(failure);
      }
      this.afterSettled(worker);
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return worker;
  }

  private afterSettled(worker: Worker): void {
    if (this.pending.size === 0) worker.unref();
  }
}
