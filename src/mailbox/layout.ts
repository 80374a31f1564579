/** Where things live in MAIL_DIR: known to the store and its delivery thread, nothing else. */
import * as path from 'node:path';
import type { MailboxName } from './address.js';

/** Files being written (same file system, so a finished file is linked into its folder, never copied). */
export const tempDirName = '.tmp';
/** One lock token per running process, named by its pid. */
export const lockDirName = '.locks';

/** MAIL_DIR/<domain>/<local-part> */
export function folderPath(mailDir: string, mailbox: MailboxName): string {
  return path.join(mailDir, mailbox.domain, mailbox.local);
}

/**
 * Names for files in MAIL_DIR/.tmp, unique per writer: they start with the pid (the store removes
 * those of dead processes at start), then the writer's own tag (the delivery thread's id), then a count.
 */
export class TempNames {
  private count = 0;
  private readonly prefix: string;

  constructor(mailDir: string, threadId?: number) {
    this.prefix = path.join(
      mailDir,
      tempDirName,
      threadId === undefined ? `${process.pid}-` : `${process.pid}-t${threadId}-`,
    );
  }

  next(): string {
    return this.prefix + ++this.count;
  }
}
