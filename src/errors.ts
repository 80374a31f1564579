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
  TMS_UNREACHABLE: ['MailServerRequestError'],
} as const satisfies Record<`TMS_${string}`, readonly string[]>;

export type ErrorCode = keyof typeof errorCodes;

/**
 * The codes of the HTTP API's error answers (`{ Error, code }`), each with its status. `connect()`'s
 * client throws an answer it gets as a MailServerRequestError with that code (a bad chaos rule as
 * the ChaosRuleError it is in process). The README's HTTP API section lists them (a test keeps
 * the two in step).
 */
export const httpErrorCodes = {
  TMS_BAD_REQUEST: 400,
  TMS_FLAG_NAME: 400,
  TMS_CHAOS_RULE: 400,
  TMS_NOT_ENABLED: 400,
  TMS_RECIPIENT_NOT_ALLOWED: 400,
  TMS_UNAUTHORIZED: 401,
  TMS_ORIGIN: 403,
  TMS_NOT_FOUND: 404,
  TMS_TOO_LARGE: 413,
  TMS_INTERNAL: 500,
  TMS_RELAY_FAILED: 502,
  TMS_NOT_READY: 503,
} as const satisfies Record<`TMS_${string}`, number>;

export type HttpErrorCode = keyof typeof httpErrorCodes;

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
