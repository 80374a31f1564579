/**
 * A message's summary for lists and search (see `MessageSummary`), from its bytes, quickly: the
 * index summarizes every stored message at start (100,000 in seconds), so this walks the MIME
 * tree itself and decodes only the text parts, where a full parse (postal-mime, which the test
 * helpers and the HTTP message view use) would also decode every attachment, at ten times the
 * cost. Header values are decoded by postal-mime's own address parser and encoded-word decoder,
 * and the counts follow postal-mime's rules (test/mailbox/summary.test.ts holds them side by side).
 */
import { addressParser, decodeWords, type Address } from 'postal-mime';
import { headerAddresses, validDate } from './addresses.js';
import type { MessageSummary } from './reader.js';

/**
 * A summary, and the message's lowercased text for searching: From, To, Cc, Bcc, Reply-To,
 * Return-Path, Subject and the body as plain text (capped in length), white space collapsed.
 * The store keeps the text apart, off the heap (see search-texts.ts).
 */
export interface Summarized {
  readonly summary: MessageSummary;
  readonly searchText: string;
}

/** Characters of a snippet before it is cut (Mailpit cuts at 200 and adds "..."). */
const snippetLength = 200;
/** Body text kept for searching: enough for any test's mail, bounded for a huge one. */
const searchBodyLength = 256 * 1024;
/** Hostile nesting stops here: deeper parts are not looked into. */
const maxDepth = 16;
const maxParts = 500;

interface Part {
  readonly headers: Map<string, string>;
  /** The body as one latin1 character per byte. */
  readonly body: string;
}

interface Walk {
  plain: string[];
  html: string[];
  /** Every part that is not body text, inline ones included. */
  attachments: number;
  inline: number;
  parts: number;
}

export function summarize(raw: Uint8Array): Summarized {
  const message = splitPart(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1'));
  const walk: Walk = { plain: [], html: [], attachments: 0, inline: 0, parts: 0 };
  walkPart(message, walk, 0);
  const header = (name: string) => message.headers.get(name);
  const body = walk.plain.length > 0 ? walk.plain.join('\n') : htmlToText(walk.html.join('\n'));
  const addresses = (name: string) => headerAddresses(parseAddresses(header(name)));
  const summary = {
    from: addresses('from')[0],
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    replyTo: addresses('reply-to'),
    subject: decodeWords(header('subject') ?? '').trim(),
    date: validDate(header('date')),
    messageId: (header('message-id') ?? '').trim().replace(/^<(.*)>$/, '$1'),
    attachments: walk.attachments - walk.inline,
    inline: walk.inline,
    snippet: snippet(body),
    // Not kept anywhere yet: no generation of the store's text file is 0.
    textRecord: { position: -1, generation: 0 },
  };
  return { summary, searchText: searchText(summary, header('return-path') ?? '', body) };
}

/** The body's first characters, white space collapsed; only the start of a long body is looked at. */
function snippet(body: string): string {
  const text = collapse(body.slice(0, snippetLength * 8));
  return text.length > snippetLength ? `${cutAt(text, snippetLength).trimEnd()}...` : text;
}

/** Header fields (lowercase names, unfolded, the first of each) and the body of one entity. */
function splitPart(entity: string): Part {
  const blank = /\r?\n\r?\n/.exec(entity);
  const head = blank ? entity.slice(0, blank.index) : entity;
  const body = blank ? entity.slice(blank.index + blank[0].length) : '';
  const headers = new Map<string, string>();
  for (const field of head.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, utf8(field.slice(colon + 1).trim()));
  }
  return { headers, body };
}

/** As postal-mime classifies parts: multiparts are walked, text/plain and text/html are the body, the rest attachments. */
function walkPart(part: Part, walk: Walk, depth: number): void {
  if (++walk.parts > maxParts) return;
  const type = headerValue(part.headers.get('content-type') ?? 'text/plain');
  const disposition = headerValue(part.headers.get('content-disposition') ?? '');
  if (type.value.startsWith('multipart/')) {
    const boundary = type.params.get('boundary');
    if (boundary === undefined || depth >= maxDepth) return;
    for (const child of multipartBodies(part.body, boundary)) walkPart(splitPart(child), walk, depth + 1);
    return;
  }
  if (disposition.value !== 'attachment' && (type.value === 'text/plain' || type.value === 'text/html')) {
    const text = decodeText(part, type.params.get('charset'));
    (type.value === 'text/plain' ? walk.plain : walk.html).push(text);
    return;
  }
  walk.attachments++;
  if (part.headers.has('content-id') && disposition.value !== 'attachment') walk.inline++;
}

/** The bodies between `--boundary` lines, up to `--boundary--`. */
function multipartBodies(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const bodies: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith(delimiter)) {
      if (current) bodies.push(current.join('\r\n'));
      if (line.startsWith(`${delimiter}--`)) return bodies;
      current = [];
    } else {
      current?.push(line);
    }
  }
  if (current) bodies.push(current.join('\r\n'));
  return bodies;
}

function decodeText(part: Part, charset: string | undefined): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  const bytes =
    encoding === 'base64'
      ? Buffer.from(part.body, 'base64')
      : encoding === 'quoted-printable'
        ? quotedPrintable(part.body)
        : Buffer.from(part.body, 'latin1');
  return decoderFor(charset).decode(bytes);
}

function quotedPrintable(text: string): Buffer {
  const unfolded = text.replace(/=\r?\n/g, '');
  return Buffer.from(
    unfolded.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  );
}

function decoderFor(charset: string | undefined): TextDecoder {
  try {
    return new TextDecoder(charset?.trim() || 'utf-8');
  } catch {
    // A label the platform does not know: read it as UTF-8, as postal-mime does.
    return new TextDecoder('utf-8');
  }
}

/** `type/subtype; a=b; c="d"`: the lowercased value and its parameters (names lowercased). */
function headerValue(field: string): { value: string; params: Map<string, string> } {
  const [value = '', ...rest] = field.split(';');
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    params.set(
      param.slice(0, eq).trim().toLowerCase(),
      param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  return { value: value.trim().toLowerCase(), params };
}

function parseAddresses(field: string | undefined): Address[] {
  if (field === undefined) return [];
  return addressParser(field).map((entry) =>
    entry.group === undefined
      ? { ...entry, name: decodeWords(entry.name) }
      : {
          ...entry,
          name: decodeWords(entry.name),
          group: entry.group.map((member) => ({ ...member, name: decodeWords(member.name) })),
        },
  );
}

function searchText(
  summary: Pick<MessageSummary, 'from' | 'to' | 'cc' | 'bcc' | 'replyTo' | 'subject'>,
  returnPath: string,
  text: string,
): string {
  const people = [summary.from, ...summary.to, ...summary.cc, ...summary.bcc, ...summary.replyTo].filter(
    (a) => a !== undefined,
  );
  const parts = [
    ...people.map(({ name, address }) => `${name} ${address}`),
    returnPath,
    summary.subject,
    text.slice(0, searchBodyLength),
  ];
  return cleanString(parts.join(' '));
}

/**
 * Mailpit's cleanString, for stored search text and queries alike: `< > " , ; ( )` become
 * spaces (so `<a@b>` matches `a@b`), white space (U+FEFF included) is collapsed, and the text
 * lowercased.
 */
export function cleanString(text: string): string {
  return collapse(text.replace(/[<>",;()]/g, ' ')).toLowerCase();
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** HTML as the text a reader sees: no head, scripts or styles, tags as spaces, entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(head|script|style|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, name: string) => {
      if (name[0] !== '#') return entities[name.toLowerCase()] ?? entity;
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    });
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The first `length` characters, never splitting a surrogate pair. */
function cutAt(text: string, length: number): string {
  const end = /[\uD800-\uDBFF]/.test(text[length - 1] ?? '') ? length - 1 : length;
  return text.slice(0, end);
}

/** Header fields travel as UTF-8 (RFC 6532) but were read one byte per character. */
function utf8(latin1: string): string {
  return /[^\x00-\x7f]/.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
}
