/**
 * Mailpit's `POST /api/v1/send` (server/apiv1/send.go): a JSON description of a message, built
 * into MIME by nodemailer's composer and stored for its envelope (From; To, Cc and Bcc) as one
 * transaction, through the same store calls an SMTP session makes, with a trace whose protocol
 * is `HTTP`. Refusals are Mailpit's: a bad address, a header the builder owns, bad base64.
 */
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { MailboxName } from '../mailbox/address.js';
import type { MessageEnvelope } from '../mailbox/reader.js';
import type { MailStore } from '../mailbox/store.js';
import { HttpError } from './errors.js';

/** What storing a sent message needs of the store: the three calls an SMTP session makes. */
export type SendDelivery = Pick<MailStore, 'check' | 'receive' | 'deliver'>;

/** Who handed the message over, for its Received line. */
export interface SendClient {
  readonly clientAddress: string;
  readonly serverName: string;
}

interface SendAddress {
  readonly Email: string;
  readonly Name?: string;
}

export interface SendRequest {
  readonly From: SendAddress;
  readonly To?: readonly SendAddress[];
  readonly Cc?: readonly SendAddress[];
  readonly Bcc?: readonly string[];
  readonly ReplyTo?: readonly SendAddress[];
  readonly Subject?: string;
  readonly Text?: string;
  readonly HTML?: string;
  readonly Tags?: readonly string[];
  readonly Headers?: Readonly<Record<string, string>>;
  readonly Attachments?: ReadonlyArray<{
    readonly Content: string;
    readonly Filename: string;
    readonly ContentType?: string;
    readonly ContentID?: string;
  }>;
}

/** Headers the message is built from, which `Headers` may not set (Mailpit's list). */
const ownHeaders = ['to', 'from', 'cc', 'bcc', 'reply-to', 'date', 'subject', 'content-type', 'mime-version'];

/** Roughly Go's mail.ParseAddress for a bare address: one `@`, no spaces or specials. */
export const bareAddress = /^[^\s@<>()[\]",;:\\]+@[^\s@<>()[\]",;:\\]+$/;

export async function buildMessage(request: SendRequest): Promise<{ envelope: MessageEnvelope; message: Buffer }> {
  const from = checked('From', request.From.Email);
  const to = (request.To ?? []).map((a) => ({ name: a.Name ?? '', address: checked('To', a.Email) }));
  const cc = (request.Cc ?? []).map((a) => ({ name: a.Name ?? '', address: checked('Cc', a.Email) }));
  const bcc = (request.Bcc ?? []).map((address) => checked('Bcc', address));
  const replyTo = (request.ReplyTo ?? []).map((a) => ({ name: a.Name ?? '', address: checked('Reply-To', a.Email) }));
  const recipients = [...to.map((a) => a.address), ...cc.map((a) => a.address), ...bcc];
  if (recipients.length === 0) throw new HttpError('TMS_BAD_REQUEST', 'No recipients: give To, Cc or Bcc');
  const headers = extraHeaders(request);
  const composer = new MailComposer({
    from: { name: request.From.Name ?? '', address: from },
    to,
    cc,
    replyTo,
    subject: request.Subject ?? '',
    text: request.Text ?? '',
    ...(request.HTML ? { html: request.HTML } : {}),
    headers,
    attachments: (request.Attachments ?? []).map((part) => ({
      filename: part.Filename,
      content: decodeBase64(part.Content, part.Filename),
      ...(part.ContentType ? { contentType: part.ContentType } : {}),
      ...(part.ContentID ? { cid: part.ContentID, contentDisposition: 'inline' as const } : {}),
    })),
  });
  // Bcc stays out of the headers: the envelope carries it, as for any blind copy.
  const message = await composer.compile().build();
  return { envelope: { from, to: recipients }, message };
}

function checked(field: string, address: string): string {
  const trimmed = address.trim();
  if (!bareAddress.test(trimmed)) throw new HttpError('TMS_BAD_REQUEST', `invalid ${field} address: ${address}`);
  return trimmed;
}

function extraHeaders(request: SendRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  const tags = request.Tags ?? [];
  if (tags.length > 0) headers['X-Tags'] = tags.join(', ');
  for (const [name, value] of Object.entries(request.Headers ?? {})) {
    const lower = name.toLowerCase();
    if (ownHeaders.includes(lower) || (lower === 'x-tags' && tags.length > 0))
      throw new HttpError('TMS_BAD_REQUEST', `cannot overwrite header: "${name}"`);
    if (!/^[!-9;-~]+$/.test(name) || /[\r\n]/.test(value))
      throw new HttpError('TMS_BAD_REQUEST', `invalid header: "${name}"`);
    headers[name] = value;
  }
  return headers;
}

/** Base64, with or without a `data:...;base64,` prefix. */
function decodeBase64(content: string, filename: string): Buffer {
  const data = content.slice(content.lastIndexOf(',') + 1).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1)
    throw new HttpError('TMS_BAD_REQUEST', `error decoding base64 attachment "${filename}"`);
  return Buffer.from(data, 'base64');
}

/** A random prefix per process, as SMTP's queue ids have, so servers sharing a MAIL_DIR never hand out the same id. */
const idPrefix = randomBytes(3).toString('hex').toUpperCase();
let idCounter = 0;

/** `HTTP` + prefix + time + counter: a plain item ID (letters and digits) that says where it came from. */
function transactionId(at: Date): string {
  return `HTTP${idPrefix}${at.getTime().toString(36).toUpperCase()}${(++idCounter).toString(36).toUpperCase()}`;
}

/**
 * Stores a built message for its envelope, one copy per recipient, as one transaction; resolves
 * with the transaction id once every copy is on disk. A recipient the store refuses is a 400.
 */
export async function storeSent(
  delivery: SendDelivery,
  built: { envelope: MessageEnvelope; message: Buffer },
  client: SendClient,
): Promise<string> {
  const recipients: MailboxName[] = [];
  for (const address of built.envelope.to) {
    const check = delivery.check(address);
    if (!check.ok) throw new HttpError('TMS_BAD_REQUEST', `invalid recipient ${address}: ${check.reason}`);
    if (!recipients.some((known) => known.address === check.mailbox.address)) recipients.push(check.mailbox);
  }
  const incoming = delivery.receive();
  incoming.write(built.message);
  const receivedAt = new Date();
  const id = transactionId(receivedAt);
  await delivery.deliver(
    incoming,
    { from: built.envelope.from, to: recipients },
    { heloName: '', protocol: 'HTTP', id, receivedAt, ...client },
  );
  return id;
}
