/**
 * The store's side of its delivery thread: hands each message to the thread and resolves with
 * what it stored. A thread that dies fails the deliveries it held, and the next delivery starts
 * a new one (see RequestThread).
 */
import type { Logger } from '../log.js';
import { bodyTransfer, type DeliveryLog, type DeliveryOutcome, type DeliveryRequest } from './copy-writer.js';
import type { DeliveryWorkerData } from './delivery-worker.js';
import { RequestThread } from './request-thread.js';

export class DeliveryThread {
  private readonly thread: RequestThread<DeliveryRequest, DeliveryOutcome, DeliveryLog>;

  constructor(data: DeliveryWorkerData, log: Logger) {
    this.thread = new RequestThread({
      besideUrl: import.meta.url,
      module: 'delivery-worker',
      label: 'delivery',
      workerData: data,
      onNotice: (line) => log[line.level](line.message),
    });
    // Started now, so the first delivery does not wait for the thread to load.
    this.thread.warmUp();
  }

  deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    // The body is moved, not copied (and moved back to be freed here, see Answer.returned).
    return this.thread.request(request, bodyTransfer(request.body));
  }

  /** Lets the thread close its files and end; call once no delivery is in flight. */
  close(): Promise<void> {
    return this.thread.close();
  }
}
