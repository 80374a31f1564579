/**
 * One MH folder on disk: numbered message files, `.mh_sequences`, its dot-lock, and the
 * high-water mark that keeps numbers from ever being reused (IMAP serves them as UIDs).
 *
 * Every change happens inside the dot-lock `.mh_sequences.lock`, the one Python's
 * `mailbox.MH.lock()` and nmh take, so other processes (a second server, a script) see
 * consistent numbering. The work inside the lock is a handful of small synchronous system
 * calls: cheaper than hopping through libuv's thread pool for each, and it never spans an
 * `await`, so within this process the lock is never contended.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addNewMessage, unseenSequence } from './flags.js';
import type { Flag } from './reader.js';
import { addRange, formatSequences, parseSequences, removeNumbers, type Sequences } from './sequences.js';

const sequencesFile = '.mh_sequences';
const lockFile = '.mh_sequences.lock';
/** Our own dot-file: the highest number ever given out in this folder. */
const highWaterFile = '.mh_highwater';
/** Room for any safe integer and a newline; the rest is spaces, which parseInt ignores. */
const highWaterWidth = 24;
/** A lock older than this was left by a crashed process: nothing holds it that long. */
const staleLockMs = 30_000;
const lockWaitLimitMs = 10_000;

export class MhFolder {
  /**
   * `lockToken`: this process's lock file (see `createLockToken`), linked in to take the lock;
   * `smallFiles`: the store's open `.mh_highwater` and `.mh_sequences` files.
   */
  constructor(
    readonly dir: string,
    private readonly lockToken: string,
    private readonly smallFiles: SmallFiles,
  ) {}

  /**
   * Links each fully written file into the folder under the next free number and records its
   * flags in the sequences (without `flags`, each goes into `unseen`, as new mail does). Returns
   * the numbers in order. The files themselves are left in place.
   */
  async addMessages(files: readonly string[], flags?: ReadonlyArray<readonly Flag[]>): Promise<number[]> {
    return this.withLock(() => {
      const numbers: number[] = [];
      this.updateHighWater((highest) => {
        for (const file of files) {
          highest = this.linkNext(file, highest);
          numbers.push(highest);
        }
        return highest;
      });
      this.updateSequences((sequences) => {
        if (flags) {
          numbers.forEach((n, i) => addNewMessage(sequences, n, flags[i] ?? []));
          return;
        }
        let unseen = sequences.get(unseenSequence) ?? [];
        for (const n of numbers) unseen = addRange(unseen, n, n);
        sequences.set(unseenSequence, unseen);
      });
      return numbers;
    });
  }

  /** Hands `change` the sequences under the lock and writes them back (readers' flag changes). */
  async changeSequences(change: (sequences: Sequences) => void): Promise<void> {
    await this.withLock(() => this.updateSequences(change));
  }

  /**
   * Deletes messages and drops them from every sequence. The high-water mark is raised first,
   * so even the highest number is never given out again.
   */
  async removeMessages(numbers: readonly number[]): Promise<void> {
    if (numbers.length === 0) return;
    await this.withLock(() => {
      // reduce, not Math.max(...numbers): emptying a big folder passes more numbers than a call takes arguments.
      this.updateHighWater((highest) => numbers.reduce((max, n) => Math.max(max, n), highest));
      for (const n of numbers) removeIfPresent(this.messagePath(n));
      this.updateSequences((sequences) => {
        for (const [name, ranges] of sequences) sequences.set(name, removeNumbers(ranges, numbers));
      });
    });
  }

  /** Message numbers present now, ascending. */
  list(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
    const numbers: number[] = [];
    for (const name of names) if (isMessageName(name)) numbers.push(Number(name));
    return numbers.sort((a, b) => a - b);
  }

  messagePath(n: number): string {
    return path.join(this.dir, String(n));
  }

  private linkNext(temp: string, highest: number): number {
    let candidate = highest + 1;
    for (;;) {
      try {
        fs.linkSync(temp, this.messagePath(candidate));
        return candidate;
      } catch (error) {
        // Another writer (a script using mailbox.MH.add, say) took this number: jump past them all.
        if (!isCode(error, 'EEXIST')) throw error;
        candidate = Math.max(candidate, this.list().at(-1) ?? 0) + 1;
      }
    }
  }

  /** Hands `change` the highest number ever given out here and records what it returns. */
  private updateHighWater(change: (highest: number) => number): void {
    this.smallFiles.update(path.join(this.dir, highWaterFile), (recorded) => {
      const parsed = recorded === undefined ? Number.NaN : Number.parseInt(recorded, 10);
      // A folder made by another tool (or by the origin Python server) has no mark yet.
      const highest = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : (this.list().at(-1) ?? 0);
      // Fixed width: the number only grows, so the file never needs truncating.
      return `${change(highest)}\n`.padEnd(highWaterWidth);
    });
  }

  /** Rewritten in place under the lock, as nmh and `mailbox.MH.set_sequences` do. */
  private updateSequences(change: (sequences: Sequences) => void): void {
    this.smallFiles.update(path.join(this.dir, sequencesFile), (text) => {
      const sequences = parseSequences(text ?? '');
      change(sequences);
      return formatSequences(sequences);
    });
  }

  private async withLock<T>(critical: () => T): Promise<T> {
    const lock = path.join(this.dir, lockFile);
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        // A link, not a new file: creating and deleting an inode per delivery is what costs most
        // on ext4 (a create after a delete waits for the journal), while a link is cheap.
        fs.linkSync(this.lockToken, lock);
        break;
      } catch (error) {
        if (isCode(error, 'ENOENT') && !fs.existsSync(this.lockToken)) {
          createLockToken(this.lockToken);
          continue;
        }
        if (!isCode(error, 'EEXIST')) throw error;
      }
      if (this.breakStaleLock(lock)) continue;
      if (Date.now() - started > lockWaitLimitMs) throw new Error(`${lock} held for over ${lockWaitLimitMs / 1000} s`);
      await sleep(Math.min(1 + attempt, 20));
    }
    try {
      return critical();
    } finally {
      removeIfPresent(lock);
    }
  }

  /** A lock naming a process that is gone, or one untouched for long (Python's are empty), is stale. */
  private breakStaleLock(lock: string): boolean {
    try {
      const holder = Number.parseInt(fs.readFileSync(lock, 'ascii'), 10);
      const { mtimeMs } = fs.statSync(lock);
      const abandoned = Number.isSafeInteger(holder) ? !processRunning(holder) : Date.now() - mtimeMs > staleLockMs;
      if (!abandoned) return false;
      removeIfPresent(lock);
      return true;
    } catch (error) {
      if (isCode(error, 'ENOENT')) return true;
      throw error;
    }
  }
}

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

  constructor(private readonly limit = 256) {}

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
    fs.writeSync(fd, next, 0, next.length, 0);
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
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o640);
    try {
      const { size } = fs.fstatSync(fd);
      this.descriptors.set(file, fd);
      if (this.descriptors.size > this.limit) this.close(this.descriptors.keys().next().value!);
      return { fd, size };
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

/** unlink, where a file already gone is fine (cheaper than rmSync's stat first). */
export function removeIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
}

/** Creates this process's lock token: a file holding our pid, so others can tell a stale lock. */
export function createLockToken(file: string): void {
  fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o640 });
}

export function processRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

function isMessageName(name: string): boolean {
  return /^[1-9][0-9]*$/.test(name);
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
