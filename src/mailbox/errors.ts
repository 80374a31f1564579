/**
 * The store's errors, each with a stable `code` (for the HTTP API's JSON, and for tests) and a
 * one-line message that names the path concerned, so a user knows what to fix.
 */

export type StoreErrorCode =
  | 'TMS_MAIL_DIR_READ_ONLY'
  | 'TMS_MAIL_DIR_NOT_DIRECTORY'
  | 'TMS_MAIL_DIR_PERMISSION'
  | 'TMS_UNSAFE_PATH'
  | 'TMS_LOCK_TIMEOUT'
  | 'TMS_FOLDER_FULL'
  | 'TMS_STORE_CLOSED'
  | 'TMS_DELIVERY_FAILED'
  | 'TMS_FOLDER_NAME'
  | 'TMS_FOLDER_EXISTS'
  | 'TMS_NO_FOLDER'
  | 'TMS_INBOX'
  | 'TMS_FOLDER_HAS_CHILDREN'
  | 'TMS_FLAG_NAME';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** MAIL_DIR cannot be used at all: read-only, not a directory, or not ours to write. */
export class MailDirError extends StoreError {
  constructor(
    code: 'TMS_MAIL_DIR_READ_ONLY' | 'TMS_MAIL_DIR_NOT_DIRECTORY' | 'TMS_MAIL_DIR_PERMISSION',
    readonly dir: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** The MailDirError for a system error met while preparing MAIL_DIR, or undefined when it is of another kind. */
export function mailDirError(dir: string, error: unknown): MailDirError | undefined {
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  const detail = syscall && path ? ` (${code} from ${syscall} ${path})` : '';
  switch (code) {
    case 'EROFS':
      return new MailDirError('TMS_MAIL_DIR_READ_ONLY', dir, `mail directory ${dir} is read-only${detail}`);
    case 'EACCES':
    case 'EPERM':
      return new MailDirError('TMS_MAIL_DIR_PERMISSION', dir, `permission denied on mail directory ${dir}${detail}`);
    case 'ENOTDIR':
    case 'EEXIST':
      return new MailDirError('TMS_MAIL_DIR_NOT_DIRECTORY', dir, `mail directory ${dir} is not a directory${detail}`);
    default:
      return undefined;
  }
}

/** Something inside MAIL_DIR that the store will not follow or use: a symbolic link, or a file where a folder goes. */
export class UnsafePathError extends StoreError {
  constructor(
    readonly path: string,
    problem: 'is a symbolic link' | 'is not a directory' | 'is not a regular file',
  ) {
    const why = problem === 'is a symbolic link' ? '; the store follows no link inside the mail directory' : '';
    super('TMS_UNSAFE_PATH', `${path} ${problem}${why}`);
  }
}

export class LockTimeoutError extends StoreError {
  constructor(lock: string, waitMs: number) {
    super('TMS_LOCK_TIMEOUT', `${lock} held by another process for over ${waitMs / 1000} s`);
  }
}

/** The next message number would be past 2^53 - 1, beyond what every reader can count exactly. */
export class FolderFullError extends StoreError {
  constructor(dir: string) {
    super('TMS_FOLDER_FULL', `${dir} has used every message number up to ${Number.MAX_SAFE_INTEGER}`);
  }
}

export class StoreClosedError extends StoreError {
  constructor() {
    super('TMS_STORE_CLOSED', 'the mail store is closed');
  }
}

/** A message that was not stored (for any recipient); `reason` is the code of the underlying error, if any. */
export class DeliveryError extends StoreError {
  constructor(
    message: string,
    readonly reason?: string,
  ) {
    super('TMS_DELIVERY_FAILED', message);
  }
}

/** A folder name a reader gave that could leave the mailbox, hide, or pass for a message. */
export class FolderNameError extends StoreError {
  constructor(
    readonly folder: string,
    reason: string,
  ) {
    super('TMS_FOLDER_NAME', `Folder name ${JSON.stringify(folder)} is not allowed: ${reason}`);
  }
}

/** A folder operation that cannot be done as asked: the folder is there already, or not, or is INBOX, or has sub-folders. */
export class FolderError extends StoreError {
  constructor(code: 'TMS_FOLDER_EXISTS' | 'TMS_NO_FOLDER' | 'TMS_INBOX' | 'TMS_FOLDER_HAS_CHILDREN', message: string) {
    super(code, message);
  }
}

/** A flag MH cannot hold as a sequence name. */
export class FlagNameError extends StoreError {
  constructor(readonly flag: string) {
    super(
      'TMS_FLAG_NAME',
      `${JSON.stringify(flag)} cannot be a flag: a keyword is a letter or "$" followed by letters, digits or "$_.+-" (at most 100), and not an MH sequence name with a meaning of its own`,
    );
  }
}
