/**
 * Mailpit's search syntax (internal/storage/search.go in Mailpit), as a parser and a predicate.
 * Terms are split on spaces, `"double quotes"` group a phrase, every term must match, and a
 * leading `-` or `!` negates one. Prefixed terms filter on one field, bare words on the message's
 * search text (headers and body), which the store matches in bulk (`MailReader.textMatcher`).
 * Like Mailpit, a term that cannot be read (a bad date, a size of 0) is ignored or, for sizes,
 * searched as a word. Our own `mailbox:` term is added.
 */
import type { HeaderAddress, MailReader, MessageSummary, TextMatcher } from '../mailbox/reader.js';
import { cleanString } from '../mailbox/summary.js';

/** What a search looks at: one stored copy, or one Mailpit item (every copy of a transaction). */
export interface Searchable {
  readonly summary: MessageSummary;
  /** To, Cc and Bcc as the API shows them: Bcc also holds envelope recipients missing from the headers. */
  readonly bcc: readonly HeaderAddress[];
  readonly receivedAt: Date;
  readonly size: number;
  readonly read: boolean;
  readonly tags: readonly string[];
  /** The mailboxes (`local@domain`) holding a copy. */
  readonly mailboxes: readonly string[];
}

type AddressField = 'to' | 'from' | 'cc' | 'bcc' | 'reply-to' | 'addressed';

export type SearchTerm =
  | { readonly kind: 'address'; readonly field: AddressField; readonly value: string }
  | { readonly kind: 'subject' | 'message-id' | 'tag' | 'mailbox' | 'text'; readonly value: string }
  | { readonly kind: 'is'; readonly value: 'read' | 'unread' | 'tagged' }
  | { readonly kind: 'has'; readonly value: 'attachment' | 'inline' }
  | { readonly kind: 'after' | 'before'; readonly at: Date }
  | { readonly kind: 'larger' | 'smaller'; readonly bytes: number };

export type NegatableTerm = SearchTerm & { readonly negated: boolean };

export interface SearchOptions {
  /** IANA time zone for dates in `before:` and `after:` (Mailpit's `tz`); default the server's. */
  readonly timeZone?: string;
}

const addressFields: readonly AddressField[] = ['to', 'from', 'cc', 'bcc', 'reply-to', 'addressed'];
const flagTerms: Record<string, SearchTerm> = {
  'is:read': { kind: 'is', value: 'read' },
  'is:unread': { kind: 'is', value: 'unread' },
  'is:tagged': { kind: 'is', value: 'tagged' },
  'has:attachment': { kind: 'has', value: 'attachment' },
  'has:attachments': { kind: 'has', value: 'attachment' },
  'has:inline': { kind: 'has', value: 'inline' },
  'has:inlines': { kind: 'has', value: 'inline' },
};

/** The terms of a query, in order; unreadable ones left out. */
export function parseSearch(query: string, options: SearchOptions = {}): NegatableTerm[] {
  // Mailpit ignores a time zone it does not know.
  const timeZone = options.timeZone !== undefined && isTimeZone(options.timeZone) ? options.timeZone : undefined;
  const terms: NegatableTerm[] = [];
  for (const arg of splitArgs(query)) {
    if (cleanString(arg) === '') continue;
    const negated = arg.length > 1 && (arg[0] === '-' || arg[0] === '!');
    const word = negated ? arg.slice(1) : arg;
    const term = parseTerm(word, timeZone);
    if (term) terms.push({ ...term, negated });
  }
  return terms;
}

/** A predicate for `query` over `reader`'s messages; an empty query matches everything. */
export function compileSearch(
  query: string,
  reader: Pick<MailReader, 'textMatcher'>,
  options: SearchOptions = {},
): (subject: Searchable) => boolean {
  const terms = parseSearch(query, options);
  const words = terms.flatMap((term) => (term.kind === 'text' ? [term.value] : []));
  // The store's texts are read once per search, and only for a search with words.
  const hasText: TextMatcher = words.length === 0 ? () => false : reader.textMatcher(words);
  return (subject) => terms.every((term) => matchTerm(term, subject, hasText) !== term.negated);
}

/** Mailpit's ArgsParser: split on spaces outside double quotes; the quotes themselves are dropped. */
function splitArgs(query: string): string[] {
  const args: string[] = [];
  let current = '';
  let quoted = false;
  const flush = () => {
    const arg = current.replaceAll('"', '').trim();
    if (arg !== '') args.push(arg);
    current = '';
  };
  for (const char of query) {
    if (char === '"') quoted = !quoted;
    if (char === ' ' && !quoted) flush();
    else current += char;
  }
  flush();
  return args;
}

function parseTerm(word: string, timeZone: string | undefined): SearchTerm | undefined {
  const lower = word.toLowerCase();
  const colon = lower.indexOf(':');
  const prefix = colon < 0 ? '' : lower.slice(0, colon);
  const rest = word.slice(colon + 1);
  if ((addressFields as readonly string[]).includes(prefix)) {
    const value = cleanString(rest);
    return value === '' ? undefined : { kind: 'address', field: prefix as AddressField, value };
  }
  switch (prefix) {
    case 'subject':
      // Mailpit does not clean a subject term: commas and brackets count.
      return rest === '' ? undefined : { kind: 'subject', value: rest.toLowerCase() };
    case 'message-id':
    case 'tag':
    case 'mailbox': {
      const value = cleanString(rest);
      return value === '' ? undefined : { kind: prefix, value };
    }
    case 'after':
    case 'before': {
      const at = parseDate(cleanString(rest).toUpperCase(), timeZone);
      return at === undefined ? undefined : { kind: prefix, at };
    }
    case 'larger':
    case 'smaller': {
      const bytes = sizeToBytes(cleanString(rest));
      if (bytes > 0) return { kind: prefix, bytes };
    }
  }
  return flagTerms[lower] ?? { kind: 'text', value: cleanString(word) };
}

function matchTerm(term: SearchTerm, subject: Searchable, hasText: TextMatcher): boolean {
  const { summary } = subject;
  switch (term.kind) {
    case 'address':
      return addressesOf(term.field, subject).some((address) => addressMatches(address, term.value));
    case 'subject':
      return summary.subject.toLowerCase().includes(term.value);
    case 'message-id':
      return summary.messageId.toLowerCase().includes(term.value);
    case 'tag':
      return subject.tags.some((tag) => tag.toLowerCase() === term.value);
    case 'mailbox':
      return subject.mailboxes.some((mailbox) => mailbox.toLowerCase() === term.value);
    case 'text':
      return hasText(summary, term.value);
    case 'is':
      return term.value === 'tagged' ? subject.tags.length > 0 : subject.read === (term.value === 'read');
    case 'has':
      return (term.value === 'attachment' ? summary.attachments : summary.inline) > 0;
    // Mailpit's bounds are inclusive, and so are their negations.
    case 'after':
      return subject.receivedAt.getTime() >= term.at.getTime();
    case 'before':
      return subject.receivedAt.getTime() <= term.at.getTime();
    case 'larger':
      return subject.size > term.bytes;
    case 'smaller':
      return subject.size < term.bytes;
  }
}

function addressesOf(field: AddressField, subject: Searchable): readonly HeaderAddress[] {
  const { summary } = subject;
  const from = summary.from === undefined ? [] : [summary.from];
  switch (field) {
    case 'to':
      return summary.to;
    case 'from':
      return from;
    case 'cc':
      return summary.cc;
    case 'bcc':
      return subject.bcc;
    case 'reply-to':
      return summary.replyTo;
    case 'addressed':
      return [...summary.to, ...from, ...summary.cc, ...subject.bcc, ...summary.replyTo];
  }
}

/** Mailpit matches the JSON of `{Name, Address}`; a term can only fall within one of them. */
function addressMatches(address: HeaderAddress, value: string): boolean {
  return address.address.toLowerCase().includes(value) || address.name.toLowerCase().includes(value);
}

/** `2kb`, `4MB`, `1.5m` or plain bytes; 0 when unreadable (Mailpit's sizeToBytes). */
export function sizeToBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s?([a-z]{1,2})?$/.exec(text.toLowerCase());
  if (!match) return 0;
  const value = Number(match[1]);
  const unit = match[2] ?? '';
  const scale = unit === '' ? 1 : unit === 'k' || unit === 'kb' ? 1024 : unit === 'm' || unit === 'mb' ? 1024 ** 2 : 0;
  return Math.floor(value * scale);
}

const datePattern = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ t](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/i;

/**
 * The dates Mailpit's users write (`2024-01-31`, `2024-01-31 14:05`, `2024/01/31`), in `timeZone`
 * or the server's zone; any other form Date understands (RFC 2822, ISO 8601 with a zone) as it is.
 */
export function parseDate(text: string, timeZone?: string): Date | undefined {
  if (text === '') return undefined;
  const match = datePattern.exec(text);
  if (!match) {
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (timeZone === undefined) return new Date(year, month - 1, day, hour, minute, second);
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  // The zone's offset at that instant, looked again once in case the offset changes in between.
  const first = zoneOffsetMs(wall, timeZone);
  return new Date(wall - zoneOffsetMs(wall - first, timeZone));
}

/** How far `timeZone` is ahead of UTC at `instant`. */
function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
      .formatToParts(instant)
      .map(({ type, value }) => [type, Number(value)]),
  );
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - instant;
}

/** Whether `timeZone` is one Intl knows; Mailpit ignores an unknown `tz`, so callers do too. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
