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
import { addRange, formatSequences, parseSequences, type Ranges, type Sequences } from './sequences.js';

const sequencesFile = '.mh_sequences';
const lockFile = '.mh_sequences.lock';
/** Our own dot-file: the highest number ever given out in this folder. */
const highWaterFile = '.mh_highwater';
/** Room for any safe integer and a newline; the rest is spaces, which parseInt ignores. */
const highWaterWidth = 24;
/** A lock older than this was left by a crashed process: nothing holds it that long. */
const staleLockMs = 30_000;
const lockWaitLimitMs = 10_000;

export const unseenSequence = 'unseen';

export class MhFolder {
  constructor(readonly dir: string) {}

  /**
   * Links each fully written temp file into the folder under the next free number and adds
   * the numbers to `unseen`. Returns the numbers in order. The temp files are left in place.
   */
  async addMessages(tempFiles: readonly string[]): Promise<number[]> {
    return this.withLock(() => {
      let highest = this.readHighWater();
      const numbers: number[] = [];
      for (const temp of tempFiles) {
        highest = this.linkNext(temp, highest);
        numbers.push(highest);
      }
      this.writeHighWater(highest);
      const sequences = this.readSequences();
      let unseen = sequences.get(unseenSequence) ?? [];
      for (const n of numbers) unseen = addRange(unseen, n, n);
      sequences.set(unseenSequence, unseen);
      this.writeSequences(sequences);
      return numbers;
    });
  }

  /**
   * Deletes messages and drops them from every sequence. The high-water mark is raised first,
   * so even the highest number is never given out again.
   */
  async removeMessages(numbers: readonly number[]): Promise<void> {
    if (numbers.length === 0) return;
    await this.withLock(() => {
      this.writeHighWater(Math.max(this.readHighWater(), ...numbers));
      for (const n of numbers) fs.rmSync(this.messagePath(n), { force: true });
      const gone = new Set(numbers);
      const sequences = this.readSequences();
      for (const [name, ranges] of sequences) {
        let kept: Ranges = [];
        for (const [first, last] of ranges) {
          for (let n = first; n <= last; n++) if (!gone.has(n)) kept = addRange(kept, n, n);
        }
        sequences.set(name, kept);
      }
      this.writeSequences(sequences);
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

  private readHighWater(): number {
    try {
      const recorded = Number.parseInt(fs.readFileSync(path.join(this.dir, highWaterFile), 'ascii'), 10);
      if (Number.isSafeInteger(recorded) && recorded >= 0) return recorded;
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    }
    // A folder made by another tool (or by the origin Python server) has no mark yet.
    const present = this.list();
    return present.length === 0 ? 0 : present[present.length - 1]!;
  }

  /** Fixed width and never truncated: the number only grows, so it overwrites in place (see `overwrite`). */
  private writeHighWater(n: number): void {
    overwrite(path.join(this.dir, highWaterFile), `${n}\n`.padEnd(highWaterWidth));
  }

  private readSequences(): Sequences {
    try {
      return parseSequences(fs.readFileSync(path.join(this.dir, sequencesFile), 'utf8'));
    } catch (error) {
      if (isCode(error, 'ENOENT')) return new Map();
      throw error;
    }
  }

  /** Rewritten in place under the lock, as nmh and `mailbox.MH.set_sequences` do. */
  private writeSequences(sequences: Sequences): void {
    overwrite(path.join(this.dir, sequencesFile), formatSequences(sequences));
  }

  private async withLock<T>(critical: () => T): Promise<T> {
    const lock = path.join(this.dir, lockFile);
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        fs.closeSync(fs.openSync(lock, 'wx', 0o640));
        break;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
      }
      if (this.breakStaleLock(lock)) continue;
      if (Date.now() - started > lockWaitLimitMs) throw new Error(`${lock} held for over ${lockWaitLimitMs / 1000} s`);
      await sleep(Math.min(1 + attempt, 20));
    }
    try {
      return critical();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  private breakStaleLock(lock: string): boolean {
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs < staleLockMs) return false;
      fs.rmSync(lock, { force: true });
      return true;
    } catch (error) {
      if (isCode(error, 'ENOENT')) return true;
      throw error;
    }
  }
}

/**
 * Replaces a small file's content without truncating it to zero or renaming over it: on file
 * systems mounted with `discard` (common on cloud VMs) each freed block costs ~0.2 ms, which
 * for two such files per delivery was most of the cost of storing a message.
 */
function overwrite(file: string, content: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o640);
  try {
    const bytes = Buffer.from(content);
    fs.writeSync(fd, bytes, 0, bytes.length, 0);
    if (fs.fstatSync(fd).size > bytes.length) fs.ftruncateSync(fd, bytes.length);
  } finally {
    fs.closeSync(fd);
  }
}

export function isMessageName(name: string): boolean {
  return /^[1-9][0-9]*$/.test(name);
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
