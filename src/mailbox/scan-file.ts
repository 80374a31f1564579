/** What a scan thread does with one message file (see ScanPool in scan.ts): run there, never on the main thread. */
import * as fs from 'node:fs';
import type { ScanResult } from './scan.js';
import { bareLineFeeds } from './served.js';
import { summarize } from './summary.js';
import { parseTrace, traceHeadBytes } from './trace.js';

/** Reads and summarizes one message file, refusing to follow a symlink or wait on a FIFO. */
export function readMessageFile(path: string): ScanResult<string> {
  let bytes: Buffer;
  let stat: fs.Stats;
  try {
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      stat = fs.fstatSync(fd);
      if (!stat.isFile()) return { gone: true };
      bytes = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ELOOP: the name is a symlink, which is not a message of ours.
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EISDIR') return { gone: true };
    return { error: (error as Error).message };
  }
  try {
    return {
      size: bytes.length,
      mtime: stat.mtime,
      trace: parseTrace(bytes.subarray(0, traceHeadBytes)),
      ...summarize(bytes),
      servedSize: bytes.length + bareLineFeeds(bytes),
    };
  } catch (error) {
    return { error: `cannot parse: ${(error as Error).message}` };
  }
}
