/**
 * Stored copies and parsed messages as JSON, the form they travel in over HTTP (`/api/tms/...`),
 * and back: the server writes them, `connect()`'s client reads them, so a test gets the same
 * MessageMeta and ParsedMessage either way. Buffers are base64, dates ISO 8601, and what a
 * message lacks is null (JSON has no undefined).
 */
import type { MailAddress, MailAttachment, MessageFlags, MessageMeta, ParsedMessage } from './message.js';

/** A stored copy: what the store knows without parsing, with the IDs the API names it by. */
export interface MessageMetaJson {
  /** Names this copy in `/api/tms/messages/{id}`. */
  readonly id: string;
  /** The Mailpit/MailHog message (every copy of one SMTP transaction) it belongs to. */
  readonly item: string;
  readonly mailbox: string;
  readonly folder: string;
  readonly number: number;
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly receivedAt: string;
  readonly size: number;
}

export interface MailAttachmentJson {
  readonly filename: string | null;
  readonly contentType: string;
  readonly disposition: string | null;
  readonly contentId: string | null;
  readonly related: boolean;
  readonly size: number;
  /** Base64. */
  readonly content: string;
}

export interface ParsedMessageJson extends MessageMetaJson {
  readonly flags: MessageFlags;
  /** The stored file's bytes, base64: exactly as stored. */
  readonly raw: string;
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly subject: string;
  readonly from: MailAddress | null;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[];
  readonly replyTo: readonly MailAddress[];
  readonly messageId: string | null;
  readonly date: string | null;
  readonly text: string | null;
  readonly html: string | null;
  readonly attachments: readonly MailAttachmentJson[];
  /** Every link, for a sign-up or reset link: see `ParsedMessage.links`. */
  readonly links: readonly string[];
}

/** A meta as the client hands it back to load it: with the id it came with. */
export type RemoteMeta = MessageMeta & { readonly id: string };

export function metaToJson(meta: MessageMeta, ids: { id: string; item: string }): MessageMetaJson {
  const { mailbox, folder, number, envelope, receivedAt, size } = meta;
  return {
    ...ids,
    mailbox,
    folder,
    number,
    envelope: { from: envelope.from, to: [...envelope.to] },
    receivedAt: receivedAt.toISOString(),
    size,
  };
}

export function metaFromJson(json: MessageMetaJson): RemoteMeta {
  const { id, mailbox, folder, number, envelope, receivedAt, size } = json;
  return { id, mailbox, folder, number, envelope, receivedAt: new Date(receivedAt), size };
}

export function messageToJson(message: ParsedMessage, ids: { id: string; item: string }): ParsedMessageJson {
  return {
    ...metaToJson(message, ids),
    flags: message.flags,
    raw: message.raw.toString('base64'),
    headers: message.headers,
    subject: message.subject,
    from: message.from ?? null,
    to: message.to,
    cc: message.cc,
    replyTo: message.replyTo,
    messageId: message.messageId ?? null,
    date: message.date?.toISOString() ?? null,
    text: message.text ?? null,
    html: message.html ?? null,
    attachments: message.attachments.map((part) => ({
      filename: part.filename ?? null,
      contentType: part.contentType,
      disposition: part.disposition ?? null,
      contentId: part.contentId ?? null,
      related: part.related,
      size: part.size,
      content: part.content.toString('base64'),
    })),
    links: message.links,
  };
}

export function messageFromJson(json: ParsedMessageJson): ParsedMessage {
  const { id: _id, ...meta } = metaFromJson(json);
  const headers: Record<string, readonly string[]> = {};
  // defineProperty: a header named `__proto__` must become a key, not a prototype.
  for (const [name, values] of Object.entries(json.headers))
    Object.defineProperty(headers, name, { value: values, enumerable: true, writable: true, configurable: true });
  return {
    ...meta,
    flags: json.flags,
    raw: Buffer.from(json.raw, 'base64'),
    headers,
    subject: json.subject,
    from: json.from ?? undefined,
    to: json.to,
    cc: json.cc,
    replyTo: json.replyTo,
    messageId: json.messageId ?? undefined,
    date: json.date === null ? undefined : new Date(json.date),
    text: json.text ?? undefined,
    html: json.html ?? undefined,
    attachments: json.attachments.map((part): MailAttachment => ({
      filename: part.filename ?? undefined,
      contentType: part.contentType,
      disposition: part.disposition ?? undefined,
      contentId: part.contentId ?? undefined,
      related: part.related,
      size: part.size,
      content: Buffer.from(part.content, 'base64'),
    })),
    links: json.links,
  };
}
