/** Entry point of the store's delivery thread: a CopyWriter serving the store on the main thread. */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import {
  bodyTransfer,
  CopyWriter,
  type DeliveryLog,
  type DeliveryOutcome,
  type DeliveryRequest,
} from './copy-writer.js';
import { LockToken, type LogLine } from './dot-lock.js';
import { lockTokenPath, TempNames } from './layout.js';
import { MailDir } from './mail-dir.js';
import { SmallFiles } from './mh-folder.js';
import { sendNotice, serveRequests } from './request-thread.js';

export interface DeliveryWorkerData {
  readonly mailDir: string;
  readonly storeId: string;
  readonly lockWaitMs: number;
  /** Whether the store logs debug lines: only then are they sent over. */
  readonly debug: boolean;
}

const port = parentPort!;
const data = workerData as DeliveryWorkerData;
const log: LogLine = (level, message) => {
  if (level !== 'debug' || data.debug) sendNotice<DeliveryLog>(port, { level, message });
};
const mailDir = new MailDir(data.mailDir);
const context = {
  lock: { token: new LockToken(lockTokenPath(data.mailDir, data.storeId), mailDir), waitMs: data.lockWaitMs, log },
  smallFiles: new SmallFiles(),
};
// The thread id keeps our temp names apart from the main thread's and from an earlier delivery thread's.
const writer = new CopyWriter(mailDir, new TempNames(data.mailDir, data.storeId, `t${threadId}`), context, log);

serveRequests<DeliveryRequest, DeliveryOutcome>(
  port,
  async (request) => ({ reply: await writer.deliver(request), returned: bodyTransfer(request.body) }),
  // Descriptors belong to the process, not the thread: they must be closed before it ends.
  () => writer.close(),
);
