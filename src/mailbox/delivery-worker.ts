/** Entry point of the store's delivery thread: a CopyWriter serving the store on the main thread. */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { bodyTransfer, closeRequest, CopyWriter, type DeliveryReply, type DeliveryRequest } from './copy-writer.js';
import { TempNames } from './layout.js';

export interface DeliveryWorkerData {
  readonly mailDir: string;
  readonly lockToken: string;
}

const port = parentPort!;
const { mailDir, lockToken } = workerData as DeliveryWorkerData;
// The thread id keeps our temp names apart from the main thread's and from an earlier delivery thread's.
const writer = new CopyWriter(mailDir, new TempNames(mailDir, threadId), lockToken);

port.on('message', (request: DeliveryRequest | typeof closeRequest) => {
  if (request === closeRequest) {
    // Descriptors belong to the process, not the thread: they must be closed before it ends.
    writer.close();
    port.close();
    return;
  }
  void writer.deliver(request).then((results) => {
    const { id, body } = request;
    port.postMessage({ id, results, body } satisfies DeliveryReply, bodyTransfer(body));
  });
});
