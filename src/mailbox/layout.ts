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
