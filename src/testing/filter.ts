/**
 * Which messages a test wants: a filter object and the pure function that applies it. Knows
 * nothing about where messages come from, so a local store and a remote server share it.
 */
import { inspect } from 'node:util';
import { codedError } from '../errors.js';
import type { MailAddress, MessageMeta, ParsedContent } from './message.js';

/**
 * How one field is matched: a string (exact; case-insensitive for addresses), a RegExp, or a
 * predicate that receives the field exactly as the message exposes it.
 */
export type Matcher<T> = string | RegExp | ((value: T) => boolean);

/**
 * Every given key must match (AND); an empty filter matches every message. A message sent to
 * several recipients is stored once per recipient mailbox, and each stored copy is matched
 * (and returned) on its own.
 */
export interface MessageFilter {
  /**
   * The To header addresses. A string matches if any address equals it, case-insensitively;
   * a RegExp if any address or its `Name <address>` form matches; a predicate gets `message.to`.
   */
  readonly to?: Matcher<readonly MailAddress[]>;
  /** The Cc header addresses, matched like `to`; a predicate gets `message.cc`. */
  readonly cc?: Matcher<readonly MailAddress[]>;
  /**
   * The SMTP envelope recipients (RCPT TO), where blind-copy recipients appear: any envelope
   * recipient matches, whether or not it is also in To or Cc. A string matches if any equals it,
   * case-insensitively; a RegExp if any matches; a predicate gets `message.envelope.to`.
   */
  readonly bcc?: Matcher<readonly string[]>;
  /** The From header address, matched like `to`; a predicate gets `message.from` (undefined when there is none). */
  readonly from?: Matcher<MailAddress | undefined>;
  /** The decoded Subject ('' when missing): a string must equal it exactly (case-sensitive). */
  readonly subject?: Matcher<string>;
  /**
   * The decoded text body (see `ParsedMessage.text`): a string must equal it exactly; use a
   * RegExp for a part of it. A message without a text part matches no string or RegExp.
   */
  readonly text?: Matcher<string | undefined>;
  /** The decoded HTML body, matched like `text`. */
  readonly html?: Matcher<string | undefined>;
  /** The MH mailbox (`local@domain`) the copy is stored in; a string is compared case-insensitively. */
  readonly mailbox?: Matcher<string>;
  /** Only messages the server received at or after this moment. */
  readonly since?: Date;
}

const matcherKeys = ['to', 'cc', 'bcc', 'from', 'subject', 'text', 'html', 'mailbox'] as const;
const filterKeys = new Set<string>([...matcherKeys, 'since']);

const invalidFilter = (message: string) => codedError(TypeError, 'TMS_INVALID_FILTER', message);

/** Throws a TypeError for an unknown key (a typo would otherwise match everything) or a value of the wrong kind. */
export function assertFilter(filter: unknown): asserts filter is MessageFilter {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter))
    throw invalidFilter(`A message filter must be an object, got ${inspect(filter)}`);
  for (const [key, value] of Object.entries(filter)) {
    if (!filterKeys.has(key))
      throw invalidFilter(`Unknown message filter key "${key}"; known keys: ${[...filterKeys].join(', ')}`);
    if (value === undefined) continue;
    if (key === 'since') {
      if (!(value instanceof Date) || Number.isNaN(value.getTime()))
        throw invalidFilter(`Message filter "since" must be a valid Date, got ${inspect(value)}`);
    } else if (typeof value !== 'string' && !(value instanceof RegExp) && typeof value !== 'function') {
      throw invalidFilter(`Message filter "${key}" must be a string, a RegExp or a function, got ${inspect(value)}`);
    }
  }
}

/**
 * The part of a filter that needs no parsing (`mailbox`, `bcc`, `since`): false means the full
 * `matches` would be false too, so the message need not be read.
 */
export function matchesMeta(meta: MessageMeta, filter: MessageFilter): boolean {
  if (filter.since !== undefined && meta.receivedAt.getTime() < filter.since.getTime()) return false;
  if (filter.mailbox !== undefined && !matchText(filter.mailbox, meta.mailbox, true)) return false;
  if (filter.bcc !== undefined && !matchList(filter.bcc, meta.envelope.to, meta.envelope.to, (address) => [address]))
    return false;
  return true;
}

/** Whether a message matches every key given in the filter (none looks at its flags). */
export function matches(message: ParsedContent, filter: MessageFilter): boolean {
  if (!matchesMeta(message, filter)) return false;
  if (filter.to !== undefined && !matchAddresses(filter.to, message.to, message.to)) return false;
  if (filter.cc !== undefined && !matchAddresses(filter.cc, message.cc, message.cc)) return false;
  if (
    filter.from !== undefined &&
    !matchAddresses(filter.from, message.from === undefined ? [] : [message.from], message.from)
  )
    return false;
  if (filter.subject !== undefined && !matchText(filter.subject, message.subject, false)) return false;
  if (filter.text !== undefined && !matchText(filter.text, message.text, false)) return false;
  if (filter.html !== undefined && !matchText(filter.html, message.html, false)) return false;
  return true;
}

function matchAddresses<T>(matcher: Matcher<T>, addresses: readonly MailAddress[], exposed: T): boolean {
  return matchList(matcher, addresses, exposed, ({ name, address }) =>
    name === '' ? [address] : [address, `${name} <${address}>`],
  );
}

/** String: any item's address equals it (case-insensitively); RegExp: any of an item's forms matches; function: gets `exposed`. */
function matchList<T, Item>(
  matcher: Matcher<T>,
  items: readonly Item[],
  exposed: T,
  forms: (item: Item) => string[],
): boolean {
  if (typeof matcher === 'function') return matcher(exposed) === true;
  if (typeof matcher === 'string') {
    const wanted = matcher.trim().toLowerCase();
    return items.some((item) => forms(item)[0].toLowerCase() === wanted);
  }
  return items.some((item) => forms(item).some((form) => test(matcher, form)));
}

function matchText<T extends string | undefined>(matcher: Matcher<T>, value: T, caseInsensitive: boolean): boolean {
  if (typeof matcher === 'function') return matcher(value) === true;
  if (value === undefined) return false;
  if (typeof matcher === 'string')
    return caseInsensitive ? matcher.toLowerCase() === value.toLowerCase() : matcher === value;
  return test(matcher, value);
}

/** RegExp.test without the surprise of a /g or /y pattern remembering where it stopped last time. */
function test(pattern: RegExp, value: string): boolean {
  pattern.lastIndex = 0;
  const result = pattern.test(value);
  pattern.lastIndex = 0;
  return result;
}

/** `{ to: 'ann@example.test', subject: /welcome/i }`, for error messages. */
export function describeFilter(filter: MessageFilter): string {
  const parts = Object.entries(filter)
    .filter(([, value]) => value !== undefined)
    .map(
      ([key, value]) =>
        `${key}: ${value instanceof Date ? value.toISOString() : typeof value === 'function' ? `[Function${(value as () => unknown).name ? ` ${(value as () => unknown).name}` : ''}]` : inspect(value)}`,
    );
  return parts.length === 0 ? '{}' : `{ ${parts.join(', ')} }`;
}
