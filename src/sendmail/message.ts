/**
 * The message as sendmail reads it: lines from standard input (LF or CRLF), ended by end of
 * input or, without -i, by a line holding a single "."; then the header edits an MTA makes
 * (recipients from To/Cc/Bcc with -t, Bcc removed, a From added when missing), and the
 * dot-stuffed CRLF form that goes after DATA.
 *
 * Lines are kept as latin1 strings: one character per byte, so any 8-bit body passes through
 * unchanged. Header values are decoded as UTF-8 only to read addresses out of them.
 */
import { addressParser } from 'postal-mime';

/** Domain given to addresses without one (`root`, `$USER`), as a local MTA would. */
export const localDomain = 'localhost';

/**
 * Reads standard input into lines (without their line ends). Without `ignoreDots`, a line that
 * is a single "." ends the message and the rest of the input is not read.
 */
export async function readMessageLines(input: AsyncIterable<Buffer | string>, ignoreDots: boolean): Promise<string[]> {
  const lines: string[] = [];
  let pending = '';
  for await (const chunk of input) {
    const text =
      pending + (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8').toString('latin1') : chunk.toString('latin1'));
    let start = 0;
    let end;
    while ((end = text.indexOf('\n', start)) >= 0) {
      const line = text.slice(start, text[end - 1] === '\r' && end > start ? end - 1 : end);
      start = end + 1;
      if (!ignoreDots && line === '.') return lines;
      lines.push(line);
    }
    pending = text.slice(start);
  }
  // A last line without a line end still counts.
  if (pending !== '') {
    const line = pending.endsWith('\r') ? pending.slice(0, -1) : pending;
    if (ignoreDots || line !== '.') lines.push(line);
  }
  return lines;
}

export interface PrepareOptions {
  /** -t: collect recipients from To, Cc and Bcc. */
  readonly extractRecipients: boolean;
  /** The envelope sender; '' for the null sender (then no From is added). */
  readonly sender: string;
  /** -F: display name for an added From header. */
  readonly fullName: string | undefined;
}

export interface PreparedMessage {
  /** The message lines as they will be sent (latin1 strings, no line ends, not dot-stuffed). */
  readonly lines: string[];
  /** With -t: the addresses in To, Cc and Bcc, in order; otherwise empty. */
  readonly headerRecipients: string[];
}

interface HeaderField {
  /** Lowercased field name. */
  readonly name: string;
  /** The first line and its continuation lines. */
  readonly lines: string[];
}

const fieldLine = /^[!-9;-~]+:/;

/**
 * Splits off the header (a leading mbox `From ` line is dropped), reads recipients with -t,
 * removes every Bcc field, and adds a From field if there is none.
 */
export function prepareMessage(input: readonly string[], options: PrepareOptions): PreparedMessage {
  let index = input.length > 0 && input[0].startsWith('From ') ? 1 : 0;
  const fields: HeaderField[] = [];
  while (index < input.length) {
    const line = input[index];
    if (fieldLine.test(line))
      fields.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), lines: [line] });
    else if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1].lines.push(line);
    else break;
    index++;
  }
  // The header ends at an empty line, or at the first line that is not a header field (then
  // the empty line that separates the body is added).
  const endedByBlank = index < input.length && input[index] === '';
  const body = input.slice(endedByBlank ? index + 1 : index);

  const headerRecipients: string[] = [];
  if (options.extractRecipients) {
    for (const field of fields) {
      if (field.name === 'to' || field.name === 'cc' || field.name === 'bcc')
        headerRecipients.push(...parseAddresses(fieldValue(field)));
    }
  }
  const kept = fields.filter((field) => field.name !== 'bcc');
  const lines = kept.flatMap((field) => field.lines);
  if (!kept.some((field) => field.name === 'from') && options.sender !== '')
    lines.push(fromField(options.sender, options.fullName));
  if (lines.length > 0 || body.length > 0) lines.push('');
  lines.push(...body);
  return { lines, headerRecipients };
}

/**
 * Addresses in a header value or a command-line argument: `a@x, "B" <b@y>`, groups, comments.
 * An address without a domain gets `@localhost`.
 */
export function parseAddresses(text: string): string[] {
  const found: string[] = [];
  for (const entry of addressParser(text, { flatten: true })) {
    if (!('address' in entry)) continue;
    let address = entry.address?.trim() ?? '';
    // `root` alone parses as a name without an address.
    if (address === '' && entry.name && /^[^\s@<>,;:"]+$/.test(entry.name)) address = entry.name;
    if (address === '') continue;
    found.push(withDomain(address));
  }
  return found;
}

export function withDomain(address: string): string {
  return address === '' || address.includes('@') ? address : `${address}@${localDomain}`;
}

/** The DATA payload: CRLF line ends, leading dots doubled, and the final ".". */
export function dataPayload(lines: readonly string[]): Buffer {
  const stuffed = lines.map((line) => (line.startsWith('.') ? `.${line}` : line));
  return Buffer.from(`${stuffed.map((line) => `${line}\r\n`).join('')}.\r\n`, 'latin1');
}

/** True if any byte is outside ASCII (BODY=8BITMIME is then declared when offered). */
export function hasEightBit(lines: readonly string[]): boolean {
  return lines.some((line) => /[\u0080-\u00ff]/.test(line));
}

function fieldValue(field: HeaderField): string {
  const raw = field.lines.join('\r\n');
  const value = raw.slice(raw.indexOf(':') + 1).replace(/\r\n(?=[ \t])/g, '');
  return Buffer.from(value, 'latin1').toString('utf8');
}

function fromField(sender: string, fullName: string | undefined): string {
  const name = fullName?.trim();
  const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
  if (!name) return utf8(`From: ${sender}`);
  const display = /^[\w !#$%&'*+/=?^`{|}~-]+$/.test(name) ? name : `"${name.replace(/["\\]/g, '\\$&')}"`;
  return utf8(`From: ${display} <${sender}>`);
}
