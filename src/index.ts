/**
 * The library face: everything the package exports. Starting a server (its options and
 * defaults) is test-mail-server.ts.
 */
export { startTestMailServer, type TestMailServer, type TestMailServerOptions } from './test-mail-server.js';
export { defaults } from './defaults.js';
export { errorCodes, httpErrorCodes, type ErrorCode, type HttpErrorCode } from './errors.js';
export { PortInUseError, type ListenerName } from './listen.js';
export { TlsFilesError } from './tls.js';
export type { LogLevel } from './log.js';
export type { Envelope } from './mailbox/store.js';
export type * from './mailbox/reader.js';
export { inboxName, systemFlags } from './mailbox/reader.js';
export { MailStore } from './mailbox/store.js';
export {
  DeliveryError,
  FlagNameError,
  FolderError,
  FolderFullError,
  FolderNameError,
  LockTimeoutError,
  MailDirError,
  StoreClosedError,
  UnsafePathError,
} from './mailbox/errors.js';
export * from './chaos/index.js';
export {
  connect,
  createAddress,
  MailClientClosedError,
  MailServerRequestError,
  MailTimeoutError,
  matches,
  testAddressDomain,
  type ArrivedMessage,
  type ConnectOptions,
  type MailServerConnection,
  type RemoteChaos,
  type MailAddress,
  type MailAttachment,
  type MailClient,
  type Matcher,
  type MessageFilter,
  type MessageFlags,
  type MessageMeta,
  type ParsedMessage,
  type WaitOptions,
} from './testing/index.js';
