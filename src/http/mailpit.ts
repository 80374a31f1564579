/**
 * The JSON shapes of Mailpit's API v1 (server/apiv1 and internal/storage/structs.go in Mailpit
 * v1.30), built from the store's types: field names and order as Mailpit emits them, `[]` for
 * empty lists, `MessageID` without `<>`, dates in RFC 3339.
 */
import { createHash } from 'node:crypto';
import type { HeaderAddress, MessageSummary } from '../mailbox/reader.js';
import type { MailAttachment, ParsedContent } from '../testing/message.js';
import { bccOf, isRead, tagsOf, type Item } from './items.js';

export interface MailpitAddress {
  readonly Name: string;
  readonly Address: string;
}

export interface MailpitMessageSummary {
  readonly ID: string;
  readonly MessageID: string;
  readonly Read: boolean;
  readonly From: MailpitAddress;
  readonly To: MailpitAddress[];
  readonly Cc: MailpitAddress[];
  readonly Bcc: MailpitAddress[];
  readonly ReplyTo: MailpitAddress[];
  readonly Subject: string;
  readonly Created: string;
  readonly Username: string;
  readonly Tags: string[];
  readonly Size: number;
  readonly Attachments: number;
  readonly Snippet: string;
}

export interface MailpitMessagesSummary {
  readonly total: number;
  readonly unread: number;
  readonly count: number;
  readonly messages_count: number;
  readonly messages_unread: number;
  readonly start: number;
  readonly tags: string[];
  readonly messages: MailpitMessageSummary[];
}

export interface MailpitAttachment {
  readonly PartID: string;
  readonly FileName: string;
  readonly ContentType: string;
  readonly ContentID: string;
  readonly Size: number;
  readonly Checksums: { readonly MD5: string; readonly SHA1: string; readonly SHA256: string };
}

export interface MailpitMessage {
  readonly ID: string;
  readonly MessageID: string;
  readonly From: MailpitAddress;
  readonly To: MailpitAddress[];
  readonly Cc: MailpitAddress[];
  readonly Bcc: MailpitAddress[];
  readonly ReplyTo: MailpitAddress[];
  readonly ReturnPath: string;
  readonly Subject: string;
  readonly ListUnsubscribe: {
    readonly Header: string;
    readonly Links: string[];
    readonly Errors: string;
    readonly HeaderPost: string;
  };
  readonly Date: string;
  readonly Tags: string[];
  readonly Username: string;
  readonly Text: string;
  readonly HTML: string;
  readonly Size: number;
  readonly Inline: MailpitAttachment[];
  readonly Attachments: MailpitAttachment[];
}

export function mailpitAddress(address: HeaderAddress | undefined): MailpitAddress {
  return { Name: address?.name ?? '', Address: address?.address ?? '' };
}

function addresses(list: readonly HeaderAddress[]): MailpitAddress[] {
  return list.map(mailpitAddress);
}

/** An item in a list or a `new` event; `summary` is its first copy's. */
export function messageSummary(item: Item, summary: MessageSummary): MailpitMessageSummary {
  const [first] = item.copies;
  return {
    ID: item.id,
    MessageID: summary.messageId,
    Read: isRead(item),
    From: mailpitAddress(summary.from),
    To: addresses(summary.to),
    Cc: addresses(summary.cc),
    Bcc: addresses(bccOf(summary, first.envelope.to)),
    ReplyTo: addresses(summary.replyTo),
    Subject: summary.subject,
    Created: first.receivedAt.toISOString(),
    Username: '',
    Tags: tagsOf(item),
    Size: first.size,
    Attachments: summary.attachments,
    Snippet: summary.snippet,
  };
}

/** Counts over the whole store (`total`, `unread`) and over what the query matched (`messages_*`). */
export interface ListCounts {
  readonly total: number;
  readonly unread: number;
  readonly matched: number;
  readonly matchedUnread: number;
  readonly start: number;
  readonly tags: string[];
}

export function messagesSummary(counts: ListCounts, messages: MailpitMessageSummary[]): MailpitMessagesSummary {
  return {
    total: counts.total,
    unread: counts.unread,
    count: messages.length,
    messages_count: counts.matched,
    messages_unread: counts.matchedUnread,
    start: counts.start,
    tags: counts.tags,
    messages,
  };
}

/**
 * A part the HTML shows by its Content-ID is inline, as Mailpit's `Inline` list has it; every
 * other part is an attachment. The store's summary counts them the same way.
 */
export function isInline(part: MailAttachment): boolean {
  return part.contentId !== undefined && part.disposition !== 'attachment';
}

/** Our part ids: the part's place among the message's non-body parts, from 1. Opaque to clients. */
export function partId(index: number): string {
  return String(index + 1);
}

/** The part a part id names, or undefined. */
export function findPart(message: ParsedContent, id: string): MailAttachment | undefined {
  if (!/^[1-9]\d{0,5}$/.test(id)) return undefined;
  return message.attachments[Number(id) - 1];
}

export function mailpitMessage(item: Item, parsed: ParsedContent, summary: MessageSummary): MailpitMessage {
  const [first] = item.copies;
  const parts = parsed.attachments.map((part, index) => ({ part, entry: attachment(part, index) }));
  const header = (name: string) => parsed.headers[name]?.[0]?.trim() ?? '';
  const returnPath = header('return-path').replace(/^<(.*)>$/, '$1');
  return {
    ID: item.id,
    MessageID: summary.messageId,
    From: mailpitAddress(summary.from),
    To: addresses(summary.to),
    Cc: addresses(summary.cc),
    Bcc: addresses(bccOf(summary, first.envelope.to)),
    ReplyTo: addresses(summary.replyTo),
    ReturnPath: returnPath || (summary.from?.address ?? ''),
    Subject: summary.subject,
    ListUnsubscribe: listUnsubscribe(header('list-unsubscribe'), header('list-unsubscribe-post')),
    Date: (summary.date ?? first.receivedAt).toISOString(),
    Tags: tagsOf(item),
    Username: '',
    Text: parsed.text ?? '',
    HTML: parsed.html ?? '',
    Size: first.size,
    Inline: parts.filter(({ part }) => isInline(part)).map(({ entry }) => entry),
    Attachments: parts.filter(({ part }) => !isInline(part)).map(({ entry }) => entry),
  };
}

function attachment(part: MailAttachment, index: number): MailpitAttachment {
  const digest = (algorithm: string) => createHash(algorithm).update(part.content).digest('hex');
  return {
    PartID: partId(index),
    FileName: part.filename ?? part.contentId ?? '',
    ContentType: part.contentType,
    ContentID: part.contentId ?? '',
    Size: part.size,
    Checksums: { MD5: digest('md5'), SHA1: digest('sha1'), SHA256: digest('sha256') },
  };
}

/** Mailpit's List-Unsubscribe summary: the `<...>` links (at most one mailto and one http(s)), and what is wrong. */
function listUnsubscribe(header: string, post: string): MailpitMessage['ListUnsubscribe'] {
  const links = [...header.matchAll(/<([^>]*)>/g)].map((match) => match[1].trim());
  const errors: string[] = [];
  if (header !== '' && links.length === 0) errors.push('No links found in List-Unsubscribe header');
  for (const scheme of ['mailto:', 'http'])
    if (links.filter((link) => link.toLowerCase().startsWith(scheme)).length > 1)
      errors.push(`Multiple ${scheme.replace(':', '')} links found`);
  for (const link of links) if (!/^(mailto:|https?:\/\/)/i.test(link)) errors.push(`Unsupported link: ${link}`);
  return { Header: header, Links: links, Errors: errors.join(', '), HeaderPost: post };
}

/**
 * The headers map of `/message/{ID}/headers`: each name as Go canonicalizes it (`Message-Id`),
 * every value in order, names sorted, as Go's encoding/json writes a map.
 */
export function headersMap(headers: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const name of Object.keys(headers)) {
    const canonical = canonicalHeaderName(name);
    const values = [...(Object.hasOwn(map, canonical) ? map[canonical] : []), ...headers[name]];
    // defineProperty: a header named `__proto__` must become a key, not a prototype.
    Object.defineProperty(map, canonical, { value: values, enumerable: true, writable: true, configurable: true });
  }
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Go's textproto.CanonicalMIMEHeaderKey: each `-`-separated word capitalized, the rest lowercased. */
export function canonicalHeaderName(name: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return name;
  return name
    .toLowerCase()
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('-');
}
