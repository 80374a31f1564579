/**
 * The trace lines a delivering MTA puts above each stored copy (RFC 5321 §4.4):
 * Return-Path, Delivered-To, and our Received line naming who handed the message over.
 */

export interface Trace {
  /** Name the client gave in HELO/EHLO ('' when it skipped the greeting). */
  readonly heloName: string;
  readonly clientAddress: string;
  /** Our host name, as the greeting gives it. */
  readonly serverName: string;
  /** RFC 3848 keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA. */
  readonly protocol: string;
  /** Queue id, also in the 250 reply, so a log line and a file can be matched. */
  readonly id: string;
  readonly receivedAt: Date;
}

export function traceHeader(trace: Trace, sender: string, recipient: string): Buffer {
  const helo = trace.heloName === '' ? 'unknown' : trace.heloName;
  return Buffer.from(
    `Return-Path: <${sender}>\r\n` +
      `Delivered-To: ${recipient}\r\n` +
      `Received: from ${helo} ([${trace.clientAddress}])\r\n` +
      `\tby ${trace.serverName} (test-mail-server) with ${trace.protocol} id ${trace.id}\r\n` +
      `\tfor <${recipient}>; ${rfc5322Date(trace.receivedAt)}\r\n`,
  );
}

/** The final-delivery lines `traceHeader` puts first (one line each, CRLF). */
const deliveryLines = /^Return-Path:[^\r\n]*\r\nDelivered-To:[^\r\n]*\r\n/i;

/**
 * A stored message without its final-delivery lines (Return-Path, Delivered-To), as it is passed
 * on to another server (RFC 5321 4.4): our Received line stays.
 */
export function withoutDeliveryLines(stored: Buffer): Buffer {
  return Buffer.from(stored.toString('latin1').replace(deliveryLines, ''), 'latin1');
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Tue, 24 Nov 2026 09:05:03 +0000`: in UTC, so stored mail does not depend on the machine's zone. */
function rfc5322Date(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[date.getUTCDay()]}, ${date.getUTCDate()} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** What a stored file's trace lines tell, read back: see `parseTrace`. */
export interface TraceInfo {
  /** The Return-Path address ('' for `<>`); undefined without one. */
  readonly sender: string | undefined;
  /** The Delivered-To address; undefined without one. */
  readonly recipient: string | undefined;
  /** Our Received line's queue id, which the copies of one transaction share; undefined if the top Received line is not ours. */
  readonly id: string | undefined;
  /** Our Received line's date (second precision). */
  readonly receivedAt: Date | undefined;
  /** The HELO/EHLO name our Received line gives (`unknown` when the client gave none); undefined if it is not ours. */
  readonly heloName: string | undefined;
}

/** The header fields `traceHeader` writes, at most this far into a file (they come first). */
export const traceHeadBytes = 4096;

const ourReceived = /\(test-mail-server\) with \S+ id (\S+)/;
/** Our Received line begins `from HELO-NAME ([address])`. */
const receivedFrom = /^from (\S+) /;

/**
 * Reads the trace lines `traceHeader` wrote from the start of a stored file (the first
 * `traceHeadBytes` are enough). Only the first Return-Path, Delivered-To and Received count: those
 * of the delivery that stored the file, above any the message brought with it.
 */
export function parseTrace(head: Buffer): TraceInfo {
  let sender: string | undefined;
  let recipient: string | undefined;
  let received: string | undefined;
  for (const field of headerFields(head.toString('latin1'))) {
    const colon = field.indexOf(':');
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    if (name === 'return-path') sender ??= value.replace(/^<(.*)>$/, '$1');
    else if (name === 'delivered-to') recipient ??= value;
    else if (name === 'received') received ??= value;
  }
  const ours = received === undefined ? null : ourReceived.exec(received);
  const date = ours ? new Date(received!.slice(received!.lastIndexOf(';') + 1).trim()) : undefined;
  return {
    sender: sender === undefined ? undefined : utf8(sender),
    recipient: recipient === undefined ? undefined : utf8(recipient),
    id: ours?.[1],
    receivedAt: date && !Number.isNaN(date.getTime()) ? date : undefined,
    heloName: ours ? utf8(receivedFrom.exec(received!)?.[1] ?? '') : undefined,
  };
}

/** The unfolded header fields of a (possibly cut) header block, up to the blank line. */
function* headerFields(text: string): Generator<string> {
  let field: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line) && field !== undefined) field += ` ${line.trim()}`;
    else {
      if (field?.includes(':')) yield field;
      field = line;
    }
  }
  if (field?.includes(':')) yield field;
}

/** Addresses travel as UTF-8 (SMTPUTF8); the head was read one byte per character. */
function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}
