/**
 * The JSON shapes of MailHog's API (mailhog/data message.go, MailHog-Server api/v1.go and v2.go),
 * built from a stored copy's bytes and the store's envelope. MailHog's own parsing is reproduced
 * as it is, quirks included (a repeated header keeps its last value, a MIME body is split on its
 * boundary string), because the `mailhog` client reads these fields directly.
 */
import type { MessageEnvelope } from '../mailbox/reader.js';
import { parseTrace, traceHeadBytes } from '../mailbox/trace.js';

export interface MailhogPath {
  readonly Relays: string[] | null;
  readonly Mailbox: string;
  readonly Domain: string;
  readonly Params: string;
}

export interface MailhogContent {
  readonly Headers: Record<string, string[]>;
  readonly Body: string;
  readonly Size: number;
  readonly MIME: { readonly Parts: MailhogContent[] } | null;
}

export interface MailhogMessage {
  readonly ID: string;
  readonly From: MailhogPath;
  readonly To: MailhogPath[];
  readonly Content: MailhogContent;
  readonly Created: string;
  readonly MIME: { readonly Parts: MailhogContent[] } | null;
  readonly Raw: { readonly From: string; readonly To: string[]; readonly Data: string; readonly Helo: string };
}

export interface MailhogMessages {
  readonly total: number;
  readonly count: number;
  readonly start: number;
  readonly items: MailhogMessage[];
}

export interface MailhogSource {
  readonly id: string;
  readonly envelope: MessageEnvelope;
  readonly receivedAt: Date;
  /** The stored bytes, with CRLF line ends (MailHog splits on them). */
  readonly raw: Buffer;
}

/** The name the client gave in HELO/EHLO, from our Received line ('' for a message that did not come by our SMTP). */
function heloOf(raw: Buffer): string {
  const name = parseTrace(raw.subarray(0, traceHeadBytes)).heloName;
  return name === undefined || name === 'unknown' ? '' : name;
}

export function mailhogMessage(source: MailhogSource): MailhogMessage {
  const data = source.raw.toString('utf8');
  const content = contentFromString(data);
  return {
    ID: source.id,
    From: pathFromString(source.envelope.from),
    To: source.envelope.to.map(pathFromString),
    // MailHog leaves the top-level Content.MIME empty and puts the parts beside it.
    Content: { ...content, MIME: null },
    Created: source.receivedAt.toISOString(),
    MIME: content.MIME,
    Raw: { From: source.envelope.from, To: [...source.envelope.to], Data: data, Helo: heloOf(source.raw) },
  };
}

/** MailHog's PathFromString: `relay,relay:mailbox@domain`. */
export function pathFromString(path: string): MailhogPath {
  const colon = path.indexOf(':');
  const relays = colon < 0 ? null : path.slice(0, colon).split(',');
  const email = colon < 0 ? path : path.slice(colon + 1);
  const at = email.indexOf('@');
  return {
    Relays: relays,
    Mailbox: at < 0 ? email : email.slice(0, at),
    Domain: at < 0 ? '' : email.slice(at + 1),
    Params: '',
  };
}

/** MailHog's ContentFromString, with the MIME parts parsed as its ParseMIMEBody does. */
export function contentFromString(data: string): MailhogContent {
  const split = data.indexOf('\r\n\r\n');
  const headers: Record<string, string[]> = {};
  if (split >= 0) {
    let last = '';
    for (const line of data.slice(0, split).split('\r\n')) {
      if (last !== '' && (line.startsWith(' ') || line.startsWith('\t'))) {
        const values = headers[last];
        values[values.length - 1] += line;
      } else if (line.includes(': ')) {
        const separator = line.indexOf(': ');
        last = line.slice(0, separator);
        Object.defineProperty(headers, last, {
          value: [line.slice(separator + 2)],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
  }
  const body = split >= 0 ? data.slice(split + 4) : data;
  const content = { Headers: headers, Body: body, Size: Buffer.byteLength(data), MIME: null };
  const type = Object.hasOwn(headers, 'Content-Type') ? headers['Content-Type'][0] : undefined;
  return type?.startsWith('multipart/') ? { ...content, MIME: { Parts: mimeParts(body, type) } } : content;
}

/** Every non-empty chunk between boundary strings, trimmed of line breaks, is a part (preamble and closing `--` too). */
function mimeParts(body: string, contentType: string): MailhogContent[] {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) return [];
  return body
    .split(`--${boundary}`)
    .filter((chunk) => chunk.length > 0)
    .map((chunk) => contentFromString(chunk.replace(/^[\r\n]+|[\r\n]+$/g, '')));
}

function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  return boundary === '' ? undefined : boundary;
}
