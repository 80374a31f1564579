/** Entry point of the store's scan threads: reads message files and summarizes them, off the main thread. */
import { parentPort } from 'node:worker_threads';
import { readMessageFile, type ScanReply, type ScanRequest } from './scan.js';
import { serveRequests } from './request-thread.js';

serveRequests<ScanRequest, ScanReply>(parentPort!, async (request) => {
  const files = [];
  for (const path of request.paths) files.push(await readMessageFile(path));
  return { reply: { files } };
});
