/** Entry point of the store's scan threads: reads message files and summarizes them, off the main thread. */
import { parentPort } from 'node:worker_threads';
import { readMessageFile } from './scan-file.js';
import type { ScanReply, ScanRequest } from './scan.js';
import { serveRequests } from './request-thread.js';

serveRequests<ScanRequest, ScanReply>(parentPort!, (request) => ({
  reply: { files: request.paths.map(readMessageFile) },
}));
