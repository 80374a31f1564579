/**
 * Mailpit's attachment thumbnails (`/part/{PartID}/thumb`): a 180x120 JPEG of an image part, blank
 * for any other part, as Mailpit's. A part Mailpit would not take for a picture (its type is not
 * `image/*`) is not looked at; a picture is drawn on a thread of its own (`thumbnail-render.ts`),
 * one at a time in the process: decoding a phone's photo in JavaScript takes seconds of CPU and a
 * hundred MB, which must not stall the SMTP and HTTP servers nor pile up. A thread that fails or
 * is still busy after `deadline` gives the blank thumbnail; nothing a part holds gives a 500.
 */
import { startWorker } from '../worker.js';

/** Far beyond what the largest picture allowed takes; only a decoder gone astray reaches it. */
const deadline = 60_000;

let blank: Promise<Buffer> | undefined;
/** The thumbnail of a part that is no picture. The decoders load on first use, not with the HTTP API (start-up time). */
function blankThumbnail(): Promise<Buffer> {
  return (blank ??= import('./thumbnail-render.js').then(({ renderThumbnail }) => renderThumbnail(Buffer.alloc(0))));
}

/** The thread drawing before the next one may start: one at a time, in order. */
let queue: Promise<unknown> = Promise.resolve();

/** The thumbnail of a part (its decoded bytes), as Mailpit draws it. */
export function thumbnail(part: { readonly contentType: string; readonly content: Buffer }): Promise<Buffer> {
  if (!part.contentType.toLowerCase().startsWith('image/')) return blankThumbnail();
  // Whatever goes wrong on the thread, the answer is the blank thumbnail.
  const drawn = queue.then(() => inThread(part.content)).catch(blankThumbnail);
  queue = drawn;
  return drawn;
}

function inThread(content: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const worker = startWorker(import.meta.url, 'thumbnail-worker', { workerData: content });
    // Neither holds the process open: a server closed meanwhile lets it end.
    worker.unref();
    const timer = setTimeout(() => void worker.terminate(), deadline).unref();
    worker.once('message', (drawn: Uint8Array) =>
      resolve(Buffer.from(drawn.buffer, drawn.byteOffset, drawn.byteLength)),
    );
    worker.once('error', () => resolve(blankThumbnail()));
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve(blankThumbnail());
    });
  });
}
