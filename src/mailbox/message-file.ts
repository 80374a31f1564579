/**
 * Reading one stored message file for a reader: whole, a byte range, or a stream; raw or with
 * CRLF line ends (see served.ts). A file that is a symlink, or not a regular file, is not served.
 */
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { isGone } from './folder-listing.js';
import type { ReadOptions } from './reader.js';
import { bareLineFeeds, withCrlf } from './served.js';

/** Below this, a stream is made from the bytes read at once. */
const streamWholeBelow = 1024 * 1024;

interface OpenedMessage {
  readonly handle: FileHandle;
  readonly size: number;
}

/** Opens a message file without following a symlink (nor waiting on a FIFO); undefined when it is not (or no longer) one. */
async function openMessage(file: string): Promise<OpenedMessage | undefined> {
  let handle: FileHandle;
  try {
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    if (isGone(error) || (error as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw error;
  }
  const stat = await handle.stat();
  if (stat.isFile()) return { handle, size: stat.size };
  await handle.close();
  return undefined;
}

/**
 * The message's bytes as asked. `knownServedSize` (the size with CRLF ends, when the index
 * knows it) lets a CRLF range of a file that needs no conversion be read without reading it all.
 */
export async function readMessage(
  file: string,
  options: ReadOptions = {},
  knownServedSize?: number,
): Promise<Buffer | undefined> {
  const opened = await openMessage(file);
  if (!opened) return undefined;
  try {
    return await readOpened(opened, options, knownServedSize);
  } finally {
    await opened.handle.close();
  }
}

async function readOpened(
  { handle, size }: OpenedMessage,
  options: ReadOptions,
  knownServedSize: number | undefined,
): Promise<Buffer> {
  if (!converts(options, size, knownServedSize)) {
    const { start, end } = span(options, size);
    return readRange(handle, start, end);
  }
  const served = withCrlf(await readRange(handle, 0, size));
  const { start, end } = span(options, served.length);
  return served.subarray(start, end);
}

/** Whether the bytes must be given CRLF ends: asked for, and the file is not known to have them. */
function converts(options: ReadOptions, size: number, knownServedSize: number | undefined): boolean {
  return options.crlf === true && knownServedSize !== size;
}

/** The range asked for, within `size` bytes. */
function span(options: ReadOptions, size: number): { start: number; end: number } {
  const end = Math.min(options.range?.end ?? size, size);
  return { start: Math.min(options.range?.start ?? 0, end), end };
}

async function readRange(handle: FileHandle, start: number, end: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(Math.max(0, end - start));
  let read = 0;
  while (read < bytes.length) {
    const { bytesRead } = await handle.read(bytes, read, bytes.length - read, start + read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return bytes.subarray(0, read);
}

/** The same as a stream: large files that need no conversion are read in chunks. */
export async function streamMessage(
  file: string,
  options: ReadOptions = {},
  knownServedSize?: number,
): Promise<Readable | undefined> {
  const opened = await openMessage(file);
  if (!opened) return undefined;
  const { start, end } = span(options, opened.size);
  if (opened.size >= streamWholeBelow && end > start && !converts(options, opened.size, knownServedSize))
    return opened.handle.createReadStream({ start, end: end - 1, autoClose: true });
  // Small, empty or converted: read at once, from the file already open.
  try {
    return Readable.from([await readOpened(opened, options, knownServedSize)]);
  } finally {
    await opened.handle.close();
  }
}

/** Octets with CRLF line ends, reading the file once. */
export async function servedSizeOf(file: string): Promise<number | undefined> {
  const bytes = await readMessage(file);
  return bytes === undefined ? undefined : bytes.length + bareLineFeeds(bytes);
}
