/**
 * The dot-lock `<folder>/.mh_sequences.lock`, the one Python's `mailbox.MH.lock()` and nmh take.
 * We take it by linking in our store's lock token, `.locks/<pid>-<store id>`, which holds our
 * pid: a link, not a new file, because creating and deleting an inode per delivery is what
 * costs most on ext4 (a create after a delete waits for the journal), while a link is cheap.
 *
 * A lock is stale, and broken, when its holder cannot be holding it any more:
 * - it names a process that is not running;
 * - it names our own pid but this process did not take it: either it is older than this process
 *   (a container restarted after `kill -9` gets the same pid, often 1), or it is not linked to a
 *   lock token (ours always are);
 * - it names no pid (Python's are empty) and is older than any lock is held.
 */
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeoutError } from './errors.js';
import { lockDirName } from './layout.js';
import { isCode, lstatIfPresent, type MailDir, removeIfPresent } from './mail-dir.js';

/** A lock without a pid and untouched for this long was left by a crashed process: nothing holds one that long. */
const staleLockMs = 30_000;
/** When this process started (the same in all its threads): nothing it locked is older. */
const processStartMs = Date.now() - process.uptime() * 1000;
/** Enough for any pid and a newline; a lock file holding more is not one of ours. */
const holderBytes = 32;

/** Where the store's file code sends a log line (the delivery thread has no logger of its own). */
export type LogLine = (level: 'debug' | 'warning', message: string) => void;

export interface LockSettings {
  readonly token: LockToken;
  /** How long to wait for a lock another process holds before giving up. */
  readonly waitMs: number;
  /** Problems that do not fail the work done under the lock (a lock we could not remove), and waits. */
  readonly log: LogLine;
}

/** A store's lock token: a file holding our pid, linked in as each lock the store takes. */
export class LockToken {
  constructor(
    readonly file: string,
    private readonly mailDir: MailDir,
  ) {}

  /** Makes the token (and .locks, if it was removed); a token that exists already is fine. */
  create(): void {
    for (let attempt = 1; ; attempt++) {
      try {
        this.mailDir.ownDirectory(lockDirName);
        fs.writeFileSync(this.file, `${process.pid}\n`, { flag: 'wx', mode: 0o640 });
        return;
      } catch (error) {
        if (isCode(error, 'EEXIST')) return;
        if (!isCode(error, 'ENOENT') || attempt > 1) throw error;
        // .locks was removed since we last checked it.
        this.mailDir.forget(this.mailDir.lockDir);
      }
    }
  }

  remove(): void {
    removeIfPresent(this.file);
  }
}

/** Runs `critical` (synchronous: the lock never spans an await) while holding `lock`. */
export async function withDotLock<T>(lock: string, settings: LockSettings, critical: () => T): Promise<T> {
  const deadline = performance.now() + settings.waitMs;
  for (let attempt = 0; !take(lock, settings.token); attempt++) {
    if (performance.now() > deadline) throw new LockTimeoutError(lock, settings.waitMs);
    if (breakIfStale(lock)) continue;
    if (attempt === 0) settings.log('debug', `${lock} is held by another process; waiting up to ${settings.waitMs} ms`);
    await sleep(Math.min(1 + attempt, 20));
  }
  try {
    return critical();
  } finally {
    try {
      removeIfPresent(lock);
    } catch (error) {
      // The work is done; failing it now would only make the caller repeat it.
      settings.log('warning', `could not remove ${lock}: ${(error as Error).message}`);
    }
  }
}

/** Links our token in as the lock; false when the lock is taken. */
function take(lock: string, token: LockToken): boolean {
  for (let attempt = 1; ; attempt++) {
    try {
      fs.linkSync(token.file, lock);
      return true;
    } catch (error) {
      if (isCode(error, 'EEXIST')) return false;
      // Our token is gone (.locks removed while we run): make it again, once. Else the folder is gone: the caller's problem.
      if (!isCode(error, 'ENOENT') || attempt > 1 || lstatIfPresent(token.file)) throw error;
      token.create();
    }
  }
}

/** True when the lock is gone or was stale and is now removed: try to take it again at once. */
function breakIfStale(lock: string): boolean {
  const info = lstatIfPresent(lock);
  if (!info) return true;
  if (!isStale(lock, info)) return false;
  // Only the lock we judged: another waiter may have broken it and locked anew since.
  const now = lstatIfPresent(lock);
  if (now && now.ino === info.ino && now.dev === info.dev) removeIfPresent(lock);
  return true;
}

function isStale(lock: string, info: fs.Stats): boolean {
  const holder = info.isFile() ? holderOf(lock) : undefined;
  if (holder === undefined) return Date.now() - info.mtimeMs > staleLockMs;
  if (holder === process.pid) return !madeByThisProcess(info) || info.nlink < 2;
  return !processRunning(holder);
}

/** The pid a lock file names, read without following a link (or blocking on a FIFO put in its place). */
function holderOf(lock: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(lock, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    if (isCode(error, 'ENOENT') || isCode(error, 'ELOOP')) return undefined;
    throw error;
  }
  try {
    const bytes = Buffer.alloc(holderBytes);
    const pid = Number.parseInt(bytes.toString('ascii', 0, fs.readSync(fd, bytes, 0, holderBytes, 0)), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } finally {
    fs.closeSync(fd);
  }
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

/** Whether a lock token (or another file a store keeps while open) was made by this process, not by an earlier one with our pid. */
export function madeByThisProcess(info: fs.Stats): boolean {
  return info.mtimeMs >= processStartMs;
}
