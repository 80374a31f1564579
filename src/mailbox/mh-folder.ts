/**
 * One MH folder on disk: numbered message files, `.mh_sequences`, its dot-lock, and the
 * high-water mark that keeps numbers from ever being reused (IMAP serves them as UIDs).
 *
 * Every change happens inside the dot-lock (see dot-lock.ts), so other processes (a second
 * server, a script) see consistent numbering. The work inside the lock is a handful of small
 * synchronous system calls: cheaper than hopping through libuv's thread pool for each, and it
 * never spans an `await`.
 *
 * The folder's directory must have been checked (MailDir.folder); files in it are opened
 * without following links.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withDotLock, type LockSettings } from './dot-lock.js';
import { FolderFullError, UnsafePathError } from './errors.js';
import { addNewMessage, unseenSequence } from './flags.js';
import { isCode, openNoFollow, removeIfPresent } from './mail-dir.js';
import type { Flag } from './reader.js';
import { addRange, formatSequences, parseSequences, removeNumbers, type Sequences } from './sequences.js';

const sequencesFile = '.mh_sequences';
const lockFile = '.mh_sequences.lock';
/** Our own dot-file: the highest number ever given out in this folder. */
const highWaterFile = '.mh_highwater';
/** Room for any safe integer and a newline; the rest is spaces, which parseInt ignores. */
const highWaterWidth = 24;
/** Numbers taken by other writers while we link are jumped past; this many jumps means something keeps adding. */
const linkAttempts = 100;

/** What every folder of one thread shares: how to lock, and the kept small-file descriptors. */
export interface FolderContext {
  readonly lock: LockSettings;
  readonly smallFiles: SmallFiles;
}

export class MhFolder {
  constructor(
    readonly dir: string,
    private readonly context: FolderContext,
  ) {}

  /**
   * Links each fully written file into the folder under the next free number and records its
   * flags in the sequences (without `flags`, each goes into `unseen`, as new mail does); the
   * files are left in place. Each file's outcome is its own (one that vanished fails alone).
   * Throws, with nothing added, when the folder cannot be locked or its numbering recorded.
   */
  async addMessages(
    files: readonly string[],
    flags?: ReadonlyArray<readonly Flag[]>,
  ): Promise<Array<PromiseSettledResult<number>>> {
    return withDotLock(path.join(this.dir, lockFile), this.context.lock, () => {
      const results: Array<PromiseSettledResult<number>> = [];
      const added: Array<{ number: number; flags: readonly Flag[] | undefined }> = [];
      try {
        this.updateHighWater((highest) => {
          files.forEach((file, i) => {
            try {
              highest = this.linkNext(file, highest);
              added.push({ number: highest, flags: flags?.[i] });
              results.push({ status: 'fulfilled', value: highest });
            } catch (error) {
              results.push({ status: 'rejected', reason: error });
            }
          });
          return highest;
        });
        this.updateSequences((sequences) => {
          if (flags) {
            for (const entry of added) addNewMessage(sequences, entry.number, entry.flags ?? []);
            return;
          }
          let unseen = sequences.get(unseenSequence) ?? [];
          for (const { number } of added) unseen = addRange(unseen, number, number);
          sequences.set(unseenSequence, unseen);
        });
      } catch (error) {
        // The numbering could not be recorded: take the links back, so no message stays unaccounted for.
        for (const { number } of added) removeIfPresent(this.messagePath(number));
        throw error;
      }
      return results;
    });
  }

  /** Hands `change` the sequences under the lock and writes them back (readers' flag changes). */
  async changeSequences(change: (sequences: Sequences) => void): Promise<void> {
    await withDotLock(path.join(this.dir, lockFile), this.context.lock, () => this.updateSequences(change));
  }

  /**
   * Deletes messages and drops them from every sequence. The high-water mark is raised first,
   * so even the highest number is never given out again.
   */
  async removeMessages(numbers: readonly number[]): Promise<void> {
    if (numbers.length === 0) return;
    await withDotLock(path.join(this.dir, lockFile), this.context.lock, () => {
      // reduce, not Math.max(...numbers): emptying a big folder passes more numbers than a call takes arguments.
      this.updateHighWater((highest) => numbers.reduce((max, n) => Math.max(max, n), highest));
      for (const n of numbers) removeIfPresent(this.messagePath(n));
      this.updateSequences((sequences) => {
        for (const [name, ranges] of sequences) sequences.set(name, removeNumbers(ranges, numbers));
      });
    });
  }

  messagePath(n: number): string {
    return path.join(this.dir, String(n));
  }

  /** The highest number any entry holds (whatever its type: a link named 7 takes 7 as well). */
  private highestTaken(): number {
    let highest = 0;
    for (const entry of this.entries()) if (isMessageName(entry.name)) highest = Math.max(highest, Number(entry.name));
    return highest;
  }

  private entries(): fs.Dirent[] {
    try {
      return fs.readdirSync(this.dir, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
  }

  private linkNext(temp: string, highest: number): number {
    let candidate = highest + 1;
    for (let attempt = 1; ; attempt++) {
      if (!Number.isSafeInteger(candidate)) throw new FolderFullError(this.dir);
      try {
        fs.linkSync(temp, this.messagePath(candidate));
        return candidate;
      } catch (error) {
        if (!isCode(error, 'EEXIST') || attempt === linkAttempts) throw error;
        // Another writer (a script using mailbox.MH.add, say) took this number: jump past them all.
        candidate = Math.max(candidate, this.highestTaken()) + 1;
      }
    }
  }

  /** Hands `change` the highest number ever given out here and records what it returns. */
  private updateHighWater(change: (highest: number) => number): void {
    this.context.smallFiles.update(path.join(this.dir, highWaterFile), (recorded) => {
      const parsed = recorded === undefined ? Number.NaN : Number.parseInt(recorded, 10);
      // A folder made by another tool (or by the origin Python server) has no mark yet.
      const highest = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : this.highestTaken();
      // Fixed width: the number only grows, so the file never needs truncating.
      return `${change(highest)}\n`.padEnd(highWaterWidth);
    });
  }

  /** Rewritten in place under the lock, as nmh and `mailbox.MH.set_sequences` do. */
  private updateSequences(change: (sequences: Sequences) => void): void {
    this.context.smallFiles.update(path.join(this.dir, sequencesFile), (text) => {
      const sequences = parseSequences(text ?? '');
      change(sequences);
      return formatSequences(sequences);
    });
  }
}

/** At most this many descriptors are kept open per SmallFiles (one per thread): enough for a few busy folders. */
const keptDescriptors = 32;

/**
 * The small files every delivery rewrites (`.mh_highwater`, `.mh_sequences`), each read and
 * rewritten in place through a descriptor kept open between deliveries (open and close were
 * two of every five calls). In place, never truncated to zero nor renamed over: on file
 * systems mounted with `discard` (common on cloud VMs) each freed block costs ~0.2 ms. A file
 * deleted behind our back (no links left) is opened afresh; nmh and `mailbox.MH` also write
 * these files in place, so their changes are seen through the same descriptor.
 */
export class SmallFiles {
  /** Most recently used last. */
  private readonly descriptors = new Map<string, number>();

  constructor(private readonly limit = keptDescriptors) {}

  /** Hands `change` the content (undefined when missing or empty) and writes what it returns. */
  update(file: string, change: (current: string | undefined) => string): void {
    const { fd, size } = this.descriptorFor(file);
    const current = Buffer.allocUnsafe(size);
    for (let read = 0; read < size;) {
      const got = fs.readSync(fd, current, read, size - read, read);
      if (got === 0) break;
      read += got;
    }
    const next = Buffer.from(change(size === 0 ? undefined : current.toString('utf8')));
    writeAll(fd, next, 0);
    if (size > next.length) fs.ftruncateSync(fd, next.length);
  }

  closeAll(): void {
    for (const file of [...this.descriptors.keys()]) this.close(file);
  }

  private descriptorFor(file: string): { fd: number; size: number } {
    const kept = this.descriptors.get(file);
    if (kept !== undefined) {
      const { nlink, size } = fs.fstatSync(kept);
      this.descriptors.delete(file);
      if (nlink > 0) {
        this.descriptors.set(file, kept);
        return { fd: kept, size };
      }
      fs.closeSync(kept);
    }
    // Never through a link: as root, that would rewrite any file on the machine.
    const fd = openNoFollow(file, fs.constants.O_RDWR | fs.constants.O_CREAT);
    try {
      const info = fs.fstatSync(fd);
      if (!info.isFile()) throw new UnsafePathError(file, 'is not a regular file');
      this.descriptors.set(file, fd);
      if (this.descriptors.size > this.limit) this.close(this.descriptors.keys().next().value!);
      return { fd, size: info.size };
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  private close(file: string): void {
    const fd = this.descriptors.get(file);
    this.descriptors.delete(file);
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes all of `bytes` at `position` (or at the file's offset when null). */
export function writeAll(fd: number, bytes: Uint8Array, position: number | null): void {
  for (let written = 0; written < bytes.length;) {
    const wrote = fs.writeSync(
      fd,
      bytes,
      written,
      bytes.length - written,
      position === null ? null : position + written,
    );
    // A regular file takes at least a byte or says why not (ENOSPC): zero would loop forever.
    if (wrote === 0) throw new Error(`no progress writing file descriptor ${fd}`);
    written += wrote;
  }
}

/** A name an MH reader counts as a message: a number without leading zeros, within 2^53 - 1, so every reader counts it exactly. */
function isMessageName(name: string): boolean {
  return /^[1-9][0-9]{0,15}$/.test(name) && Number(name) <= Number.MAX_SAFE_INTEGER;
}
