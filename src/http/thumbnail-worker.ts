/** A thread that draws one thumbnail (see `thumbnail.ts`): the part's bytes in, the JPEG out. */
import { parentPort, workerData } from 'node:worker_threads';
import { renderThumbnail } from './thumbnail-render.js';

const content = workerData as Uint8Array;
parentPort!.postMessage(renderThumbnail(Buffer.from(content.buffer, content.byteOffset, content.byteLength)));
