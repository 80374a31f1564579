/**
 * Real clients for the compatibility tests (nodemailer, Python's smtplib, swaks) and the
 * Python `mailbox.MH` reader, plus the split of a stored file into our trace lines and the
 * message bytes as the client sent them.
 */
import assert from 'node:assert/strict';
import { Transform, type Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { python } from '../helpers.js';

/** A message described once and sent by either client. */
export interface MailSpec {
  from: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  subject: string;
  text: string;
  html?: string;
  attachment?: { filename: string; contentType: string; content: Buffer };
}

/** What a client handed to DATA (before dot-stuffing), and the envelope it used. */
export interface Sent {
  bytes: Buffer;
  envelope: { from: string; to: string[] };
}

/**
 * Sends with nodemailer and captures the exact message bytes it streamed into DATA: a
 * process function runs last in nodemailer's pipeline, after its own final-newline fix;
 * only the line-end normalization of its DATA stream comes after (see `crlf`).
 */
export async function sendWithNodemailer(
  port: number,
  mail: MailSpec,
  options: SMTPTransport.Options = {},
): Promise<Sent & { info: SMTPTransport.SentMessageInfo }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    name: 'nodemailer.test',
    ...options,
  });
  const chunks: Buffer[] = [];
  transport.use('stream', (message, done) => {
    message.message.processFunc((input: Readable) => {
      // A transform, not a 'data' listener: that would start the flow before nodemailer reads.
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          chunks.push(Buffer.from(chunk));
          callback(null, chunk);
        },
      });
      input.on('error', (error) => tap.destroy(error));
      return input.pipe(tap);
    });
    done();
  });
  try {
    const info = await transport.sendMail({
      from: mail.from,
      to: mail.to,
      cc: mail.cc,
      bcc: mail.bcc,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      attachments: mail.attachment ? [{ ...mail.attachment }] : undefined,
    });
    return {
      bytes: crlf(Buffer.concat(chunks)),
      envelope: { from: info.envelope.from || '', to: info.envelope.to },
      info,
    };
  } finally {
    transport.close();
  }
}

/**
 * nodemailer's DATA stream turns bare CR and bare LF into CRLF (its 7bit text parts keep the
 * caller's LFs until then): the same here gives the bytes on the wire, before dot-stuffing.
 */
function crlf(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

const smtplibScript = String.raw`
import base64, json, smtplib, sys
from email.message import EmailMessage

spec = json.loads(sys.argv[1])
sent = []

class Capturing(smtplib.SMTP):
    # send_message ends in sendmail with the flattened bytes: record exactly what goes to DATA.
    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
        sent.append({'from': from_addr, 'to': list(to_addrs), 'bytes': base64.b64encode(msg).decode()})
        return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)

with Capturing('127.0.0.1', spec['port'], local_hostname='python.test', timeout=30) as smtp:
    if 'raw' in spec:
        refused = smtp.sendmail(spec['from'], spec['to'], base64.b64decode(spec['raw']), spec.get('mailOptions', []))
    else:
        mail = spec['mail']
        message = EmailMessage()
        message['From'] = mail['from']
        message['To'] = ', '.join(mail['to'])
        if mail.get('cc'):
            message['Cc'] = ', '.join(mail['cc'])
        if mail.get('bcc'):
            message['Bcc'] = ', '.join(mail['bcc'])
        message['Subject'] = mail['subject']
        message.set_content(mail['text'])
        if mail.get('html'):
            message.add_alternative(mail['html'], subtype='html')
        attachment = mail.get('attachment')
        if attachment:
            maintype, subtype = attachment['contentType'].split('/')
            message.add_attachment(base64.b64decode(attachment['content']), maintype=maintype, subtype=subtype, filename=attachment['filename'])
        # send_message takes the recipients from To, Cc and Bcc, and strips Bcc from the copy it sends.
        refused = smtp.send_message(message)
print(json.dumps({'sent': sent, 'refused': refused}))
`;

/** Sends a structured message with `smtplib.send_message`. */
export async function sendWithSmtplib(port: number, mail: MailSpec): Promise<Sent> {
  const spec = {
    port,
    mail: {
      ...mail,
      attachment: mail.attachment && { ...mail.attachment, content: mail.attachment.content.toString('base64') },
    },
  };
  return smtplibResult(await python(smtplibScript, [JSON.stringify(spec)]));
}

/** Sends exact bytes with `smtplib.sendmail` (the client dot-stuffs them and adds nothing else). */
export async function sendRawWithSmtplib(
  port: number,
  from: string,
  to: string[],
  raw: Buffer,
  mailOptions: string[] = [],
): Promise<Sent> {
  return smtplibResult(
    await python(smtplibScript, [JSON.stringify({ port, from, to, raw: raw.toString('base64'), mailOptions })]),
  );
}

function smtplibResult(stdout: string): Sent {
  const result = JSON.parse(stdout) as {
    sent: Array<{ from: string; to: string[]; bytes: string }>;
    refused: Record<string, unknown>;
  };
  assert.deepEqual(result.refused, {}, 'smtplib reports refused recipients');
  assert.equal(result.sent.length, 1);
  const [sent] = result.sent;
  return { bytes: Buffer.from(sent.bytes, 'base64'), envelope: { from: sent.from, to: sent.to } };
}

/**
 * What the server should store after the trace lines: the bytes the client gave DATA, plus the
 * CRLF both clients add before the final dot when the message does not end with one.
 */
export function expectedStored(sent: Buffer): Buffer {
  return sent.subarray(-2).equals(Buffer.from('\r\n')) ? sent : Buffer.concat([sent, Buffer.from('\r\n')]);
}

export interface MhMessage {
  /** Header values by lowercased name, unfolded, UTF-8 and RFC 2047 decoded. */
  headers: Record<string, string[]>;
  /** Leaf MIME parts with their decoded payload bytes. */
  parts: Array<{ type: string; filename: string | null; payload: Buffer }>;
  /** Sequences the message is in, per `MHMessage.get_sequences()`. */
  sequences: string[];
  /** `MH.get_bytes(key)`: the stored file. */
  raw: Buffer;
}

export interface MhFolderView {
  keys: number[];
  count: number;
  sequences: Record<string, number[]>;
  messages: Map<number, MhMessage>;
}

const readMhScript = String.raw`
import base64, json, mailbox, re, sys
from email.header import decode_header, make_header

box = mailbox.MH(sys.argv[1], create=False)

def text(value):
    value = value.encode('ascii', 'surrogateescape').decode('utf-8')
    value = re.sub(r'\r?\n(?=[ \t])', '', value).strip()
    if '=?' in value:
        value = str(make_header(decode_header(value)))
    return value

messages = {}
keys = box.keys()
for key in keys:
    message = box.get_message(key)
    headers = {}
    for name, value in message.raw_items():
        headers.setdefault(name.lower(), []).append(text(value))
    parts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        parts.append({'type': part.get_content_type(), 'filename': part.get_filename(),
                      'payload': base64.b64encode(part.get_payload(decode=True) or b'').decode()})
    messages[str(key)] = {'headers': headers, 'parts': parts, 'sequences': message.get_sequences(),
                          'raw': base64.b64encode(box.get_bytes(key)).decode()}
print(json.dumps({'keys': keys, 'count': len(box), 'sequences': box.get_sequences(), 'messages': messages}))
`;

/** Reads a folder with Python's `mailbox.MH(path, create=False)`. */
export async function readMh(folder: string): Promise<MhFolderView> {
  const result = JSON.parse(await python(readMhScript, [folder])) as {
    keys: number[];
    count: number;
    sequences: Record<string, number[]>;
    messages: Record<
      string,
      {
        headers: Record<string, string[]>;
        parts: Array<{ type: string; filename: string | null; payload: string }>;
        sequences: string[];
        raw: string;
      }
    >;
  };
  const messages = new Map<number, MhMessage>();
  for (const [key, message] of Object.entries(result.messages)) {
    messages.set(Number(key), {
      headers: message.headers,
      parts: message.parts.map((part) => ({ ...part, payload: Buffer.from(part.payload, 'base64') })),
      sequences: message.sequences,
      raw: Buffer.from(message.raw, 'base64'),
    });
  }
  return { keys: result.keys, count: result.count, sequences: result.sequences, messages };
}

/**
 * Splits a stored file into our trace lines (Return-Path, Delivered-To, and the folded
 * Received) and the message bytes after them.
 */
export function splitTrace(file: Buffer): {
  returnPath: string;
  deliveredTo: string;
  received: string;
  message: Buffer;
} {
  // latin1 maps each byte to one character, so offsets in the text are offsets in the file.
  const text = file.toString('latin1');
  const match =
    /^Return-Path: <([^\r\n]*)>\r\nDelivered-To: ([^\r\n]*)\r\n(Received: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*)\r\n/.exec(
      text,
    );
  assert.ok(match, `stored file does not start with our trace lines:\n${text.slice(0, 400)}`);
  const utf8 = (value: string) => Buffer.from(value, 'latin1').toString('utf8');
  return {
    returnPath: utf8(match[1]),
    deliveredTo: utf8(match[2]),
    received: match[3].replace(/\r\n[ \t]+/g, ' '),
    message: file.subarray(match[0].length),
  };
}
