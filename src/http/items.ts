/**
 * Mailpit's and MailHog's unit is the message as sent: one SMTP transaction is one item, however
 * many mailboxes hold a copy of it, and reading, tagging or deleting the item acts on every copy.
 * A message that came in another way (IMAP APPEND, a file dropped into a folder) is an item of
 * its own. This module groups the store's copies into items and gives each an opaque, URL-safe ID.
 */
import type { HeaderAddress, IndexedMessage, MailReader, MessageRef, MessageSummary } from '../mailbox/reader.js';
import type { Searchable } from './search.js';

export interface Item {
  readonly id: string;
  /** Every copy, in the index's order; the first is the one whose bytes and summary the API shows. */
  readonly copies: readonly [IndexedMessage, ...IndexedMessage[]];
}

/** Our queue ids as they are (`3F9A21MWU4HJTV1`, the id the 250 reply names); anything else is encoded. */
const plainTransaction = /^[0-9A-Za-z]{1,64}$/;
/** Longer than any ID we hand out; longer input is refused before it is decoded. */
const maxIdLength = 1024;

type ParsedId = { readonly transaction: string } | { readonly ref: MessageRef };

export function itemId(message: IndexedMessage): string {
  return message.transaction === undefined ? copyId(message) : transactionItemId(message.transaction);
}

/** The ID of one stored copy (`/api/tms/messages/{id}`); for a message without a transaction, also its item's. */
export function copyId(ref: MessageRef): string {
  return `c_${base64url(JSON.stringify([ref.mailbox, ref.folder, ref.number]))}`;
}

/** The ID of the item an SMTP transaction (or the send API) stored. */
export function transactionItemId(transaction: string): string {
  return plainTransaction.test(transaction) ? transaction : `t_${base64url(transaction)}`;
}

/** What an ID names, or undefined for anything that is not one of ours (it is then simply unknown). */
export function parseItemId(id: string): ParsedId | undefined {
  if (id.length > maxIdLength) return undefined;
  if (plainTransaction.test(id)) return { transaction: id };
  const encoded = /^([tc])_([A-Za-z0-9_-]+)$/.exec(id);
  if (!encoded) return undefined;
  const text = Buffer.from(encoded[2], 'base64url').toString('utf8');
  if (encoded[1] === 't') return { transaction: text };
  let parts: unknown;
  try {
    parts = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || parts.length !== 3) return undefined;
  const [mailbox, folder, number] = parts as unknown[];
  if (typeof mailbox !== 'string' || typeof folder !== 'string') return undefined;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) return undefined;
  return { ref: { mailbox, folder, number } };
}

/** The item an ID names, looked up in the index only; undefined when unknown, malformed or deleted. */
export function findItem(reader: MailReader, id: string): Item | undefined {
  const parsed = parseItemId(id);
  if (parsed === undefined) return undefined;
  if ('transaction' in parsed) {
    const copies = reader.transaction(parsed.transaction);
    // One name per item: `t_` + an encoded plain id is not another name for it.
    return copies.length === 0 || itemId(copies[0]) !== id ? undefined : { id, copies: copies as Item['copies'] };
  }
  const message = knownCopy(reader, parsed.ref);
  return message === undefined || message.transaction !== undefined ? undefined : { id, copies: [message] };
}

/** The stored copy a copy ID names; undefined when unknown, malformed or deleted. */
export function findCopy(reader: MailReader, id: string): IndexedMessage | undefined {
  const parsed = parseItemId(id);
  return parsed !== undefined && 'ref' in parsed ? knownCopy(reader, parsed.ref) : undefined;
}

function knownCopy(reader: MailReader, ref: MessageRef): IndexedMessage | undefined {
  // Only names the index already holds are passed on: a decoded name never reaches the store unchecked.
  if (!reader.mailboxes().includes(ref.mailbox) || reader.folder(ref) === undefined) return undefined;
  return reader.message(ref);
}

/** Read once every copy is: an item stays unread while any recipient has not seen it. */
export function isRead(item: Item): boolean {
  return item.copies.every((copy) => copy.flags.includes('\\Seen'));
}

/** Tags are IMAP keywords (every flag but the `\` system flags), gathered over the copies, sorted. */
export function tagsOf(item: Item): string[] {
  const tags = new Set<string>();
  for (const copy of item.copies) for (const flag of copy.flags) if (!flag.startsWith('\\')) tags.add(flag);
  return [...tags].sort(compareTags);
}

/** Case-insensitive, as Mailpit lists its tags. */
export function compareTags(a: string, b: string): number {
  return a.localeCompare(b, 'en', { sensitivity: 'base' }) || (a < b ? -1 : a > b ? 1 : 0);
}

export function mailboxesOf(item: Item): string[] {
  return [...new Set(item.copies.map((copy) => copy.mailbox))];
}

/**
 * Bcc as Mailpit shows it: the Bcc header, plus each envelope recipient that no To, Cc or Bcc
 * header names (a blind copy), since Mailpit adds those to Bcc when it stores a message.
 */
export function bccOf(summary: MessageSummary, envelopeTo: readonly string[]): HeaderAddress[] {
  const named = new Set([...summary.to, ...summary.cc, ...summary.bcc].map((a) => a.address.toLowerCase()));
  const blind = envelopeTo.filter((address) => !named.has(address.toLowerCase()));
  return [...summary.bcc, ...[...new Set(blind)].map((address) => ({ name: '', address }))];
}

/** The item as a search sees it; `summary` is its first copy's. */
export function searchableOf(item: Item, summary: MessageSummary): Searchable {
  return new ItemSearchable(item, summary);
}

/**
 * What a term needs is worked out when it asks: a search over 100,000 items for a word needs the
 * summary alone. A class, so that each item costs one small object and no closures.
 */
class ItemSearchable implements Searchable {
  constructor(
    private readonly item: Item,
    readonly summary: MessageSummary,
  ) {}

  get bcc(): HeaderAddress[] {
    return bccOf(this.summary, this.item.copies[0].envelope.to);
  }

  get receivedAt(): Date {
    return this.item.copies[0].receivedAt;
  }

  get size(): number {
    return this.item.copies[0].size;
  }

  get read(): boolean {
    return isRead(this.item);
  }

  get tags(): string[] {
    return tagsOf(this.item);
  }

  get mailboxes(): string[] {
    return mailboxesOf(this.item);
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
