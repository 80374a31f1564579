/** Where things live in MAIL_DIR: known to the store and its delivery thread, nothing else. */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { MailboxName } from './address.js';

/** Files being written (same file system, so a finished file is linked into its folder, never copied). */
export const tempDirName = '.tmp';
/** One lock token per open store, named by its pid and store id. */
export const lockDirName = '.locks';

/** MAIL_DIR/<domain>/<local-part> */
export function folderPath(mailDir: string, mailbox: MailboxName): string {
  return path.join(mailDir, mailbox.domain, mailbox.local);
}

/**
 * A new store's id. With the pid it names the store's temp files and lock token, so that two
 * stores of one process (two test fixtures, two threads) never share or remove each other's.
 */
export function newStoreId(): string {
  return randomBytes(4).toString('hex');
}

/** MAIL_DIR/.locks/<pid>-<store id>: the file the store links in as a folder's dot-lock. */
export function lockTokenPath(mailDir: string, storeId: string): string {
  return path.join(mailDir, lockDirName, `${process.pid}-${storeId}`);
}

/**
 * Who made an entry of .tmp or .locks: the pid, and the store id (undefined in the names of
 * older versions, `<pid>` and `<pid>-<count>`); undefined for a name we never make.
 */
export function ownerOf(name: string): { pid: number; storeId: string | undefined } | undefined {
  const match = /^([1-9][0-9]*)(?:-([0-9a-f]{8})(?=-|$))?/.exec(name);
  return match ? { pid: Number(match[1]), storeId: match[2] } : undefined;
}

/**
 * Names for files in MAIL_DIR/.tmp, unique per writer: the pid and store id first (see
 * `ownerOf`, which start-up cleanup relies on), then the writer's own tag (`t` and the delivery
 * thread's id, `search-texts` for the store's file of search texts), then a count.
 */
export class TempNames {
  private count = 0;
  private readonly prefix: string;

  constructor(mailDir: string, storeId: string, writer?: string) {
    const tag = writer === undefined ? '' : `${writer}-`;
    this.prefix = path.join(mailDir, tempDirName, `${process.pid}-${storeId}-${tag}`);
  }

  next(): string {
    return this.prefix + ++this.count;
  }
}
