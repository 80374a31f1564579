/**
 * The CLI's server, on a worker thread of its own (see `cli.ts` for why). It reports a failure
 * to start or stop, and stops when the main thread asks; the thread ends when the server has.
 */
import * as fs from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { describeFailure as describe } from './cli/failures.js';
import { startTestMailServer, type TestMailServerOptions } from './test-mail-server.js';

/** What the server thread tells the CLI: why it failed (then it ends). */
export interface ServerThreadReport {
  readonly failed: string;
}
/** What the CLI tells the server thread: stop. */
export type StopRequest = 'stop';

/** Bytecode a function runs before V8 considers optimizing it (V8's default: 67,584); see below. */
const interruptBudget = 8000;

const port = parentPort!;
const report = (message: ServerThreadReport) => port.postMessage(message);

try {
  // Log lines go straight to stderr: a worker's process.stderr is relayed by the main thread, later.
  const server = await startTestMailServer({
    ...(workerData as TestMailServerOptions),
    logWriter: (line) => void fs.writeSync(2, line),
  });
  // A fresh server meets its first burst of mail in unoptimized code, and with V8's default budget
  // it takes thousands of messages to reach full speed. With an eighth of it the hot paths are
  // optimized within the first few hundred (smtp-source, 5,000 messages to a fresh server: +15-19%
  // msg/s with 10 senders, +11% with one). Set once listening, as during start-up it would only
  // optimize code that runs once (+50 ms to the greeting); and only in the CLI: it is process-wide.
  setFlagsFromString(`--interrupt-budget=${interruptBudget}`);
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
