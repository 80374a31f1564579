/**
 * The test-facing API over any MessageSource: wait for mail, list it, clear it, and make
 * addresses that keep parallel tests apart. `startTestMailServer` puts these methods on its handle.
 */
import { randomBytes } from 'node:crypto';
import { codedError, type ErrorCode } from '../errors.js';
import { assertFilter, matches, matchesMeta, type MessageFilter } from './filter.js';
import type { ParsedMessage } from './message.js';
import type { MessageSource } from './source.js';
import { waitForMessages, type WaitOptions } from './waiter.js';

export interface MailClient {
  /**
   * Resolves with the first stored copy matching every key of `filter` (default: any message),
   * whether it was stored before the call or arrives later. On timeout (default 5000 ms) rejects
   * with a MailTimeoutError whose message lists the messages that did arrive.
   *
   * @example
   * const msg = await mail.waitForMessage({ to: 'ann@example.test', subject: /welcome/i });
   */
  waitForMessage(filter?: MessageFilter, options?: WaitOptions): Promise<ParsedMessage>;
  /** Like `waitForMessage`, for `count` distinct stored copies; resolves with them, oldest first. */
  waitForMessages(filter: MessageFilter, count: number, options?: WaitOptions): Promise<ParsedMessage[]>;
  /** Every stored copy matching `filter` (default: all), oldest first. One per recipient mailbox. */
  messages(filter?: MessageFilter): Promise<ParsedMessage[]>;
  /** The messages stored in one mailbox (address compared case-insensitively), oldest first. */
  mailbox(address: string): Promise<ParsedMessage[]>;
  /** Deletes every stored message of every mailbox. */
  deleteAll(): Promise<void>;
  /**
   * A new address no other test uses, `<prefix>-<16 hex digits>@example.test` (prefix default
   * `test`). Send a test's mail to it and filter on it, and tests running in parallel against
   * one server never see each other's mail. `.test` is reserved by RFC 2606, so nothing real
   * is ever addressed, and common address validators accept it.
   */
  createAddress(prefix?: string): string;
}

/** The domain of `createAddress` addresses. */
export const testAddressDomain = 'example.test';

/** See `MailClient.createAddress`. */
export function createAddress(prefix = 'test'): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*$/.test(prefix) || prefix.length > 64) {
    throw codedError(
      TypeError,
      'TMS_INVALID_ARGUMENT',
      `createAddress: prefix must be letters, digits, "_", "+", "-" and single inner dots (at most 64), got ${JSON.stringify(prefix)}`,
    );
  }
  return `${prefix}-${randomBytes(8).toString('hex')}@${testAddressDomain}`;
}

export class MailClientClosedError extends Error {
  override readonly name = 'MailClientClosedError';
  readonly code = 'TMS_CLIENT_CLOSED' satisfies ErrorCode;
  constructor() {
    super('The mail server was closed while waiting for mail');
  }
}

/** The MailClient methods over `source`; `close()` rejects waits still pending with MailClientClosedError. */
export function createMailClient(source: MessageSource): MailClient & { close(): void } {
  const pending = new Set<AbortController>();
  let closed = false;

  async function wait(filter: MessageFilter, count: number, options: WaitOptions = {}): Promise<ParsedMessage[]> {
    if (closed) throw new MailClientClosedError();
    const own = new AbortController();
    const outer = options.signal;
    const forward = () => own.abort(outer!.reason);
    if (outer?.aborted) forward();
    else outer?.addEventListener('abort', forward, { once: true });
    pending.add(own);
    try {
      return await waitForMessages(source, filter, count, { timeout: options.timeout, signal: own.signal });
    } finally {
      pending.delete(own);
      outer?.removeEventListener('abort', forward);
    }
  }

  async function messages(filter: MessageFilter = {}): Promise<ParsedMessage[]> {
    assertFilter(filter);
    const candidates = (await source.list()).filter((meta) => matchesMeta(meta, filter));
    // As when waiting, a message that cannot be read (deleted meanwhile, unparseable) is left out.
    const loaded = await Promise.all(candidates.map((meta) => source.load(meta).catch(() => undefined)));
    return loaded.filter((message): message is ParsedMessage => message !== undefined && matches(message, filter));
  }

  return {
    async waitForMessage(filter = {}, options) {
      const [message] = await wait(filter, 1, options);
      return message;
    },
    waitForMessages: (filter, count, options) => wait(filter, count, options),
    messages,
    mailbox: (address) => messages({ mailbox: address.trim() }),
    deleteAll: () => source.deleteAll(),
    createAddress,
    close() {
      closed = true;
      for (const controller of pending) controller.abort(new MailClientClosedError());
      pending.clear();
    },
  };
}
