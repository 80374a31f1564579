/**
 * The error codes: every error the package throws at its users carries one as `code`, stable
 * across releases, so callers (and, later, the HTTP API's JSON) branch on the code rather than on
 * the text. Each code lists the error names it comes with; the README's "Errors" says when each is
 * thrown (a test keeps the two in step). The classes stay beside the code that throws them.
 */
export const errorCodes = {
  TMS_PORT_IN_USE: ['PortInUseError'],
  TMS_TLS_FILES: ['TlsFilesError'],
  TMS_CHAOS_RULE: ['ChaosRuleError'],
  TMS_TIMEOUT: ['MailTimeoutError'],
  TMS_CLIENT_CLOSED: ['MailClientClosedError'],
  TMS_INVALID_FILTER: ['TypeError'],
  TMS_INVALID_ARGUMENT: ['TypeError', 'RangeError'],
  TMS_MAIL_DIR_READ_ONLY: ['MailDirError'],
  TMS_MAIL_DIR_NOT_DIRECTORY: ['MailDirError'],
  TMS_MAIL_DIR_PERMISSION: ['MailDirError'],
  TMS_UNSAFE_PATH: ['UnsafePathError'],
  TMS_LOCK_TIMEOUT: ['LockTimeoutError'],
  TMS_FOLDER_FULL: ['FolderFullError'],
  TMS_STORE_CLOSED: ['StoreClosedError'],
  TMS_DELIVERY_FAILED: ['DeliveryError'],
  TMS_FOLDER_NAME: ['FolderNameError'],
  TMS_FOLDER_EXISTS: ['FolderError'],
  TMS_NO_FOLDER: ['FolderError'],
  TMS_INBOX: ['FolderError'],
  TMS_FOLDER_HAS_CHILDREN: ['FolderError'],
  TMS_FLAG_NAME: ['FlagNameError'],
} as const satisfies Record<`TMS_${string}`, readonly string[]>;

export type ErrorCode = keyof typeof errorCodes;

/**
 * A JavaScript error of a built-in kind (TypeError for a wrong argument, RangeError for one out of
 * range), with our code: `instanceof TypeError` keeps working for those who test it.
 */
export function codedError<E extends Error>(
  Kind: new (message: string) => E,
  code: ErrorCode,
  message: string,
): E & { readonly code: ErrorCode } {
  return Object.assign(new Kind(message), { code });
}
