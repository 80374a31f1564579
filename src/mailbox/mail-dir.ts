/**
 * MAIL_DIR's directories and files as the store may use them: every component under MAIL_DIR a
 * real directory and every file opened without following a symbolic link, since a link could
 * send mail (or our rewrites of `.mh_sequences`) anywhere on the machine. MAIL_DIR itself may be
 * a link: that one is the user's choice.
 *
 * Node has no openat(), so directories are checked with lstat, component by component, and
 * files are opened with O_NOFOLLOW. A directory checked for writing is remembered, so a
 * delivery pays for the checks once per folder; an operation that fails in a folder `forget`s
 * it, and the next use checks it (and makes what is missing) afresh. That is also how a
 * MAIL_DIR, `.tmp` or `.locks` removed while we run (CI cleanup) comes back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MailboxName } from './address.js';
import { UnsafePathError } from './errors.js';
import { lockDirName, tempDirName, type TempNames } from './layout.js';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY } = fs.constants;
const directoryMode = 0o750;
const fileMode = 0o640;
/** A temp name already taken, or .tmp just removed, is retried with the next name; more is not a coincidence. */
const tempAttempts = 3;

export class MailDir {
  readonly tempDir: string;
  readonly lockDir: string;
  /** Directories found (or made) real for writing, not checked again until forgotten. */
  private readonly checked = new Set<string>();
  /** Checked folders by mailbox address: a delivery's lookup, without building the path each time. */
  private readonly folders = new Map<string, string>();

  constructor(readonly root: string) {
    this.tempDir = path.join(root, tempDirName);
    this.lockDir = path.join(root, lockDirName);
  }

  /** The mailbox's folder, made if missing; throws UnsafePathError when a link or a file is in the way. */
  folder(mailbox: MailboxName): string {
    let dir = this.folders.get(mailbox.address);
    if (dir === undefined) {
      dir = this.directory([mailbox.domain, mailbox.local], true)!;
      this.folders.set(mailbox.address, dir);
    }
    return dir;
  }

  /**
   * The mailbox's folder if it exists as real directories, else undefined. Checked on every
   * call: readers serve what is there now, so a link put in since the last look is refused too.
   */
  existingFolder(mailbox: MailboxName): string | undefined {
    try {
      return this.directory([mailbox.domain, mailbox.local], false);
    } catch (error) {
      if (error instanceof UnsafePathError) return undefined;
      throw error;
    }
  }

  /**
   * A folder of the mailbox: `components` below its own (INBOX) folder. Made (with its parents)
   * when missing and `create`, else undefined when missing; throws UnsafePathError when a link or
   * a file is in the way.
   */
  subFolder(mailbox: MailboxName, components: readonly string[], create: boolean): string | undefined {
    return this.directory([mailbox.domain, mailbox.local, ...components], create);
  }

  /** MAIL_DIR/.tmp or MAIL_DIR/.locks, made (again) if missing. */
  ownDirectory(name: typeof tempDirName | typeof lockDirName): string {
    return this.directory([name], true)!;
  }

  /** A new temp file, open for writing. A removed .tmp is made again; a name someone else took is skipped. */
  createTemp(names: TempNames): { file: string; fd: number } {
    for (let attempt = 1; ; attempt++) {
      const file = names.next();
      try {
        if (!this.checked.has(this.tempDir)) this.ownDirectory(tempDirName);
        // O_EXCL: never through a link, never over a file another writer made.
        return { file, fd: fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, fileMode) };
      } catch (error) {
        if (attempt === tempAttempts || !(isCode(error, 'EEXIST') || isCode(error, 'ENOENT'))) throw error;
        this.forget(this.tempDir);
      }
    }
  }

  /** After an operation in `dir` failed: check it, and its parents, again on next use. */
  forget(dir: string): void {
    for (let at = dir; at.startsWith(this.root + path.sep); at = path.dirname(at)) this.checked.delete(at);
    for (const [address, folder] of this.folders) {
      if (folder === dir || folder.startsWith(dir + path.sep)) this.folders.delete(address);
    }
  }

  private directory(parts: readonly string[], create: boolean): string | undefined {
    let dir = this.root;
    for (const part of parts) {
      dir = path.join(dir, part);
      if (create && this.checked.has(dir)) continue;
      if (!checkDirectory(dir, create, this.root)) return undefined;
      if (create) this.checked.add(dir);
    }
    return dir;
  }
}

/** True when `dir` is a real directory (made first if missing and `create`); throws if a link or a file is there. */
function checkDirectory(dir: string, create: boolean, root: string): boolean {
  let info = lstatIfPresent(dir);
  if (!info && create) {
    makeDirectory(dir, root);
    info = fs.lstatSync(dir);
  }
  if (!info) return false;
  if (info.isSymbolicLink()) throw new UnsafePathError(dir, 'is a symbolic link');
  if (!info.isDirectory()) throw new UnsafePathError(dir, 'is not a directory');
  return true;
}

function makeDirectory(dir: string, root: string): void {
  try {
    fs.mkdirSync(dir, directoryMode);
  } catch (error) {
    // Made meanwhile by another writer: checked next, like any other.
    if (isCode(error, 'EEXIST')) return;
    // MAIL_DIR itself was removed while we run: make it again, then this.
    if (!isCode(error, 'ENOENT') || path.dirname(dir) !== root) throw error;
    makeDirectories(root);
    fs.mkdirSync(dir, directoryMode);
  }
}

/**
 * `mkdir -p` that reports the real error (Node's recursive mkdir says ENOENT on a read-only
 * file system). Returns the directories it made, outermost first.
 */
export function makeDirectories(dir: string): string[] {
  try {
    fs.mkdirSync(dir, directoryMode);
    return [dir];
  } catch (error) {
    if (isCode(error, 'EEXIST')) {
      if (!fs.statSync(dir).isDirectory()) throw error;
      return [];
    }
    const parent = path.dirname(dir);
    if (!isCode(error, 'ENOENT') || parent === dir) throw error;
    const made = makeDirectories(parent);
    fs.mkdirSync(dir, directoryMode);
    return [...made, dir];
  }
}

/** Opens a file of a checked folder, never through a link: a link there is an UnsafePathError. */
export function openNoFollow(file: string, flags: number): number {
  try {
    return fs.openSync(file, flags | O_NOFOLLOW, fileMode);
  } catch (error) {
    if (isCode(error, 'ELOOP')) throw new UnsafePathError(file, 'is a symbolic link');
    throw error;
  }
}

export function lstatIfPresent(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
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

export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
