/** Entry point of the store's scan threads: reads message files and summarizes them, off the main thread. */
import { parentPort } from 'node:worker_threads';
import { readMessageFile } from './scan-file.js';
import type { ScanReply, ScanRequest, ScanResult } from './scan.js';
import { encodeSearchTexts } from './search-texts.js';
import { serveRequests } from './request-thread.js';

serveRequests<ScanRequest, ScanReply>(parentPort!, (request) => {
  const read = request.paths.map(readMessageFile);
  // The texts go as one buffer, moved rather than copied: a reply under 100 KB is also made in
  // the main thread's young generation, where V8 makes a bigger one straight in the old one.
  const { buffer, records } = encodeSearchTexts(
    read.flatMap((result) =>
      'searchText' in result ? [{ snippet: result.summary.snippet, text: result.searchText }] : [],
    ),
  );
  let next = 0;
  const files = read.map((result): ScanResult =>
    'searchText' in result ? { ...result, searchText: records[next++] } : result,
  );
  return { reply: { files }, transfer: [buffer] };
});
