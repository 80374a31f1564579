/** Mail for tests: wait for, find and parse stored messages, independent of how they are fetched. */
export {
  createAddress,
  createMailClient,
  MailClientClosedError,
  testAddressDomain,
  type MailClient,
} from './client.js';
export { assertFilter, describeFilter, matches, matchesMeta, type Matcher, type MessageFilter } from './filter.js';
export {
  extractLinks,
  parseMessage,
  type MailAddress,
  type MailAttachment,
  type MessageFlags,
  type MessageMeta,
  type ParsedMessage,
} from './message.js';
export { messageKey, type MessageSource } from './source.js';
export { StoreSource } from './store-source.js';
export { MailTimeoutError, waitForMessages, type ArrivedMessage, type WaitOptions } from './waiter.js';
export { connect, type ConnectOptions, type MailServerConnection, type RemoteChaos } from './connect.js';
export { HttpSource, MailServerRequestError } from './http-source.js';
