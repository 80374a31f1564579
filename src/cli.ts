#!/usr/bin/env node
/**
 * `test-mail-server [MAIL_DIR] [options]` and `test-mail-server sendmail ...`: reads the command
 * line (`cli/options.ts`), prints, runs the server on its thread, and maps signals to `close()`.
 * Everything else lives in the library.
 */
import { helpText, parseCommandLine, program, UsageError, type CommandLine } from './cli/options.js';
import type { TestMailServerOptions } from './test-mail-server.js';
import { createLogger } from './log.js';
import type { ServerThreadReport, StopRequest } from './server-worker.js';
import { packageVersion } from './version.js';
import { startWorker } from './worker.js';

/** The server thread's young generation, in MiB; see `serve`. */
const serverYoungGenerationMb = 3;

function main(): void {
  let commandLine: CommandLine;
  try {
    commandLine = parseCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${program}: ${error.message} (see ${program} --help)\n`);
    process.exit(2);
  }
  if (commandLine.kind === 'help') return void process.stdout.write(helpText());
  if (commandLine.kind === 'version') return void process.stdout.write(`${packageVersion()}\n`);
  const warn = createLogger('warning');
  for (const warning of commandLine.warnings) warn.warning(warning);
  serve({ ...commandLine.options, logLevel: commandLine.logLevel });
}

function serve(options: TestMailServerOptions): void {
  // The server runs on a worker thread for its heap settings: a young generation of 3 MiB instead
  // of V8's default of up to 48 keeps a busy server's garbage small (measured with smtp-source:
  // peak memory under 100 x 100 KiB messages 112 -> 90 MiB, throughput unchanged). Node takes
  // such limits when a thread starts; a process cannot change its own.
  const server = startWorker(import.meta.url, 'server-worker', {
    workerData: options,
    resourceLimits: { maxYoungGenerationSizeMb: serverYoungGenerationMb },
  });
  // Handlers go in before the server starts: a signal arriving in between would otherwise kill
  // the process outright, skipping the graceful stop.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${program}: ${signal} again, stopping at once\n`);
      process.exit(1);
    }
    stopping = true;
    server.postMessage('stop' satisfies StopRequest);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  let failed = false;
  server.on('message', (report: ServerThreadReport) => {
    failed = true;
    process.stderr.write(`${program}: ${report.failed}\n`);
  });
  // A fault of ours, not of the setup: the stack helps the bug report.
  server.on('error', (error) => {
    failed = true;
    process.stderr.write(`${program}: ${error.stack ?? error.message}\n`);
  });
  server.on('exit', (code) => process.exit(failed || code !== 0 ? 1 : 0));
}

if (process.argv[2] === 'sendmail') {
  const { runSendmail } = await import('./sendmail/main.js');
  process.exit(
    await runSendmail(process.argv.slice(3), {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    }),
  );
}
main();
