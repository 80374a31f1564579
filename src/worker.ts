/**
 * Starting a worker thread from one of our own modules, whether the package runs as built
 * JavaScript or as its TypeScript sources (the test suite, under tsx).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Starts `name` (no extension), a module in the same folder as `besideUrl` (the caller's `import.meta.url`). */
export function startWorker(besideUrl: string, name: string, options: WorkerOptions): Worker {
  const entry = new URL(`./${name}${path.extname(fileURLToPath(besideUrl))}`, besideUrl);
  // None of the parent's flags: a thread needs none, and some break it (`--input-type` with a file).
  const settings = { ...options, execArgv: [] };
  if (entry.pathname.endsWith('.js')) return new Worker(entry, settings);
  // Node 20 does not hand loader hooks on to worker threads, so the thread registers tsx itself.
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { ...settings, eval: true });
}
