/**
 * A stored message as a test sees it: raw bytes in, a plain data object out (no methods, no
 * class instances but Buffer and Date), so the same type can later travel over HTTP.
 * Parsing is postal-mime's; this module only shapes its result and adds what it lacks
 * (links, envelope, MH identity).
 */
import type { Address as PostalAddress, Email } from 'postal-mime';

/** A parsed address: `name` is the decoded display name, '' when there is none. */
export interface MailAddress {
  readonly name: string;
  readonly address: string;
}

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

/** Who a stored copy was for and when it arrived: what the store knows without parsing. */
export interface MessageMeta {
  /** `local@domain` of the MH mailbox this copy is stored in (domain lowercased). */
  readonly mailbox: string;
  /** MH message number in that mailbox (the file name). */
  readonly number: number;
  /**
   * The SMTP envelope: `from` is the MAIL FROM address ('' for the null sender `<>`),
   * `to` every RCPT TO address of the transaction. For a message stored before this
   * server started watching, `to` holds only this copy's recipient (from Delivered-To).
   */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /**
   * When the server accepted it. For a message stored before this server started watching,
   * it is read from our Received line (second precision), or the Date header.
   */
  readonly receivedAt: Date;
  /** Bytes in the stored file, trace lines included. */
  readonly size: number;
}

export interface ParsedMessage extends MessageMeta {
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

/** Parses a stored file. Without `meta` (a message we did not see arrive) it is read from the trace lines. */
export async function parseMessage(
  raw: Buffer,
  mailbox: string,
  number: number,
  meta?: Omit<MessageMeta, 'mailbox' | 'number'>,
): Promise<ParsedMessage> {
  // Loaded on first use: a server that is never asked to parse (the CLI) saves its memory.
  const { default: PostalMime } = await import('postal-mime');
  const email = await PostalMime.parse(raw);
  const headers = collectHeaders(email);
  const text = withoutTrailingLineBreaks(email.text);
  const html = withoutTrailingLineBreaks(email.html);
  return {
    mailbox,
    number,
    ...(meta ?? metaFromTrace(headers, mailbox, raw.length)),
    raw,
    headers,
    subject: email.subject ?? '',
    from: flatten(email.from === undefined ? [] : [email.from])[0],
    to: flatten(email.to),
    cc: flatten(email.cc),
    replyTo: flatten(email.replyTo),
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

/** Envelope and arrival time of a copy stored before we watched, from the lines our store wrote above it. */
function metaFromTrace(
  headers: Record<string, string[]>,
  mailbox: string,
  size: number,
): Omit<MessageMeta, 'mailbox' | 'number'> {
  const returnPath = headers['return-path']?.[0]?.trim();
  const from = returnPath === undefined ? '' : returnPath.replace(/^<(.*)>$/, '$1');
  const deliveredTo = headers['delivered-to']?.[0]?.trim();
  const received = headers['received']?.[0];
  const receivedAt =
    (received === undefined ? undefined : validDate(received.slice(received.lastIndexOf(';') + 1))) ??
    validDate(headers['date']?.[0]) ??
    new Date(0);
  return { envelope: { from, to: [deliveredTo || mailbox] }, receivedAt, size };
}

function flatten(addresses: readonly PostalAddress[] | undefined): MailAddress[] {
  const flat: MailAddress[] = [];
  for (const entry of addresses ?? []) {
    if (entry.group !== undefined)
      for (const member of entry.group) flat.push({ name: member.name, address: member.address });
    else flat.push({ name: entry.name, address: entry.address });
  }
  return flat;
}

function withoutTrailingLineBreaks(body: string | undefined): string | undefined {
  return body?.replace(/(?:\r?\n)+$/, '');
}

function validDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
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
