/**
 * The CLI's server, on a worker thread of its own (see `cli.ts` for why). It reports a failure
 * to start or stop, and stops when the main thread asks; the thread ends when the server has.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { startTestMailServer, type TestMailServerOptions } from './index.js';

/** What the server thread tells the CLI: why it failed (then it ends). */
export interface ServerThreadReport {
  readonly failed: string;
}
/** What the CLI tells the server thread: stop. */
export type StopRequest = 'stop';

const port = parentPort!;
const report = (message: ServerThreadReport) => port.postMessage(message);
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

try {
  // Log lines go straight to stderr: a worker's process.stderr is relayed by the main thread, later.
  const server = await startTestMailServer({ ...(workerData as TestMailServerOptions), logWriter: (line) => void fs.writeSync(2, line) });
  port.once('message', () => {
    server.close().then(
      () => port.close(),
      (error: unknown) => {
        report({ failed: describe(error) });
        port.close();
      },
    );
  });
} catch (error) {
  report({ failed: describe(error) });
  port.close();
}
