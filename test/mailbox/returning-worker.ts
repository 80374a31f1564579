/** A thread for request-thread.test.ts: keeps each request's bytes, answers with their length and moves them back. */
import { parentPort } from 'node:worker_threads';
import { serveRequests } from '../../src/mailbox/request-thread.js';

export type Probe = { readonly bytes: Uint8Array } | { readonly previousLeft: true };
export type ProbeReply = { readonly length: number } | { readonly previousLength: number };

let previous: Uint8Array | undefined;

serveRequests<Probe, ProbeReply>(parentPort!, (request) => {
  // What the thread still sees of the bytes it moved back: nothing, once they left.
  if ('previousLeft' in request) return { reply: { previousLength: previous?.byteLength ?? -1 } };
  previous = request.bytes;
  return { reply: { length: request.bytes.byteLength }, returned: [request.bytes.buffer as ArrayBuffer] };
});
