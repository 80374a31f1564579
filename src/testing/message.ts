/**
 * A stored message as a test sees it: raw bytes in, a plain data object out (no methods, no
 * class instances but Buffer and Date), so the same type can later travel over HTTP.
 * Parsing is postal-mime's; this module only shapes its result and adds what it lacks
 * (links, envelope, MH identity).
 */
import type { Email } from 'postal-mime';
import type { Flag, HeaderAddress, IndexedMessage } from '../mailbox/reader.js';
import { headerAddresses, validDate } from '../mailbox/addresses.js';

/** A parsed address: `name` is the decoded display name, '' when there is none. */
export type MailAddress = HeaderAddress;

export interface MailAttachment {
  /** Decoded file name; undefined when the part names none. */
  readonly filename: string | undefined;
  /** Lowercase MIME type, e.g. `image/png`. */
  readonly contentType: string;
  /** Lowercase Content-Disposition (`attachment`, `inline`), undefined when the part has none. */
  readonly disposition: string | undefined;
  /**
   * Content-ID without its angle brackets, e.g. `logo@app` for an image the HTML shows as
   * `<img src="cid:logo@app">` (nodemailer's `cid` option); undefined when the part has none.
   */
  readonly contentId: string | undefined;
  /** True when the HTML references this part by its Content-ID (an inline image). */
  readonly related: boolean;
  /** Decoded size in bytes (`content.length`). */
  readonly size: number;
  /** The decoded bytes. */
  readonly content: Buffer;
}

/**
 * Who a stored copy was for and when it arrived: what the store knows without parsing (see
 * `IndexedMessage`): `mailbox` (`local@domain`, domain lowercased), `folder` (`INBOX` for
 * delivered mail), `number` (the MH file name), the SMTP `envelope` (for a message stored before
 * this server watched, read from its trace lines), `receivedAt`, and `size` in bytes as stored.
 */
export type MessageMeta = Pick<IndexedMessage, 'mailbox' | 'folder' | 'number' | 'envelope' | 'receivedAt' | 'size'>;

/** A message's flags, as IMAP clients, mutt and nmh set them (MH sequences on disk). */
export interface MessageFlags {
  readonly seen: boolean;
  readonly answered: boolean;
  readonly flagged: boolean;
  readonly deleted: boolean;
  readonly draft: boolean;
  /** Other keywords (`$Forwarded`, `work`), as named. */
  readonly keywords: readonly string[];
}

export interface ParsedMessage extends MessageMeta {
  /** The flags when the message was looked up. */
  readonly flags: MessageFlags;
  /** The stored file's bytes: our trace lines (Return-Path, Delivered-To, Received), then the message as sent. */
  readonly raw: Buffer;
  /**
   * Every header, keyed by lowercase name, each with all its values in order (unfolded,
   * encoded words left as they are). Includes the trace lines, e.g. `headers['received']`.
   */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** Decoded Subject, '' when there is none. */
  readonly subject: string;
  /** The first From address; undefined when there is none. */
  readonly from: MailAddress | undefined;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[];
  readonly replyTo: readonly MailAddress[];
  /** Message-ID with its angle brackets, as in the header. */
  readonly messageId: string | undefined;
  /** The Date header; undefined when missing or unparseable. */
  readonly date: Date | undefined;
  /**
   * The decoded text/plain body (any charset, quoted-printable or base64), without trailing
   * line breaks: MIME cannot tell whether a body ended with one, and encodings differ in
   * whether the break before the next part shows (so `text: 'Hello'` sent comes back `'Hello'`).
   * Undefined when there is no text part.
   */
  readonly text: string | undefined;
  /** The decoded text/html body, treated like `text`; undefined when there is no HTML part. */
  readonly html: string | undefined;
  /** Every non-body part, inline images included, in document order. */
  readonly attachments: readonly MailAttachment[];
  /**
   * Links, each once, in order of appearance: every `href` of `<a>` and `<area>` in the HTML
   * (entities decoded), then the http(s) URLs written in the text.
   */
  readonly links: readonly string[];
}

/** A parsed message without its flags, which change while its content does not. */
export type ParsedContent = Omit<ParsedMessage, 'flags'>;

/**
 * postal-mime, loaded on first use: a server that is never asked to parse (the CLI) saves its
 * memory. The import is made once; made per message, it resolved the module again each time.
 */
let postalMime: Promise<typeof import('postal-mime')> | undefined;

/** Parses a stored file (its flags are the store's to add). */
export async function parseMessage(raw: Buffer, meta: MessageMeta): Promise<ParsedContent> {
  const { default: PostalMime } = await (postalMime ??= import('postal-mime'));
  const email = await PostalMime.parse(raw);
  const headers = collectHeaders(email);
  const text = withoutTrailingLineBreaks(email.text);
  const html = withoutTrailingLineBreaks(email.html);
  const { mailbox, folder, number, envelope, receivedAt, size } = meta;
  return {
    mailbox,
    folder,
    number,
    envelope,
    receivedAt,
    size,
    raw,
    headers,
    subject: email.subject ?? '',
    from: headerAddresses(email.from === undefined ? [] : [email.from])[0],
    to: headerAddresses(email.to),
    cc: headerAddresses(email.cc),
    replyTo: headerAddresses(email.replyTo),
    messageId: email.messageId,
    date: validDate(headers['date']?.[0]),
    text,
    html,
    attachments: email.attachments.map((part) => {
      const content = toBuffer(part.content);
      return {
        filename: part.filename ?? undefined,
        contentType: part.mimeType,
        disposition: part.disposition ?? undefined,
        contentId: part.contentId === undefined ? undefined : part.contentId.replace(/^<(.*)>$/, '$1'),
        related: part.related === true,
        size: content.length,
        content,
      };
    }),
    links: extractLinks(html, text),
  };
}

function collectHeaders(email: Email): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const { key, value } of email.headers) {
    // defineProperty: a header named `__proto__` must become a key, not a prototype.
    if (Object.hasOwn(headers, key)) headers[key].push(value);
    else Object.defineProperty(headers, key, { value: [value], enumerable: true, writable: true, configurable: true });
  }
  return headers;
}

/** The flags as a test asserts on them. */
export function flagsView(flags: readonly Flag[]): MessageFlags {
  return {
    seen: flags.includes('\\Seen'),
    answered: flags.includes('\\Answered'),
    flagged: flags.includes('\\Flagged'),
    deleted: flags.includes('\\Deleted'),
    draft: flags.includes('\\Draft'),
    keywords: flags.filter((flag) => !flag.startsWith('\\')),
  };
}

function withoutTrailingLineBreaks(body: string | undefined): string | undefined {
  return body?.replace(/(?:\r?\n)+$/, '');
}

function toBuffer(content: ArrayBuffer | Uint8Array | string): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof ArrayBuffer) return Buffer.from(content);
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

const hrefPattern = /<(?:a|area)\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;
const urlPattern = /\bhttps?:\/\/[^\s<>"']+/gi;

/** Links in an HTML body and a text body, each once, HTML first; see `ParsedMessage.links`. */
export function extractLinks(html: string | undefined, text: string | undefined): string[] {
  const links = new Set<string>();
  if (html !== undefined) {
    const withoutComments = html.replace(/<!--[\s\S]*?-->/g, '');
    for (const match of withoutComments.matchAll(hrefPattern)) {
      const href = decodeEntities((match[1] ?? match[2] ?? match[3] ?? '').trim());
      if (href !== '') links.add(href);
    }
  }
  if (text !== undefined) {
    for (const [found] of text.matchAll(urlPattern)) links.add(trimUrl(found));
  }
  return [...links];
}

/** Drops what ends a sentence rather than a URL: `see https://x.test/a.` and `(https://x.test/a)`. */
function trimUrl(url: string): string {
  let end = url.length;
  for (;;) {
    const last = url[end - 1];
    if ('.,;:!?*'.includes(last)) end--;
    else if (last === ')' && count(url.slice(0, end), '(') < count(url.slice(0, end), ')')) end--;
    else if (last === ']' && count(url.slice(0, end), '[') < count(url.slice(0, end), ']')) end--;
    else break;
  }
  return url.slice(0, end);
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

const namedEntities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return namedEntities[name.toLowerCase()] ?? entity;
  });
}
