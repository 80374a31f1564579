/**
 * Real clients in, Python's `mailbox.MH` out: nodemailer and smtplib send plain, HTML with a
 * binary attachment, To + Cc, and Bcc messages; the folders they land in read back with
 * `mailbox.MH(path, create=False)`, and the bytes after our trace lines are the client's.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { startServer } from '../helpers.js';
import {
  expectedStored,
  readMh,
  sendRawWithSmtplib,
  sendWithNodemailer,
  sendWithSmtplib,
  splitTrace,
  type MailSpec,
  type MhMessage,
  type Sent,
} from './clients.js';

type Client = 'nodemailer' | 'smtplib';
const clients: Client[] = ['nodemailer', 'smtplib'];

function send(client: Client, server: TestMailServer, mail: MailSpec): Promise<Sent> {
  return client === 'nodemailer' ? sendWithNodemailer(server.smtpPort, mail) : sendWithSmtplib(server.smtpPort, mail);
}

function folderOf(server: TestMailServer, address: string): string {
  const at = address.lastIndexOf('@');
  return path.join(server.mailDir, address.slice(at + 1).toLowerCase(), address.slice(0, at));
}

function header(message: MhMessage, name: string): string | undefined {
  const values = message.headers[name.toLowerCase()];
  assert.ok(!values || values.length === 1, `${name} appears ${values?.length} times`);
  return values?.[0];
}

/** The bare addresses in an address header (`"Name" <a@b>, c@d` -> [a@b, c@d]), domains lowercased. */
function addresses(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((part) => (/<([^>]*)>/.exec(part)?.[1] ?? part).trim())
    .filter((a) => a !== '')
    .map(lowerDomain);
}

function lowerDomain(address: string): string {
  return address.replace(/@([^@]*)$/, (_, domain: string) => `@${domain.toLowerCase()}`);
}

/**
 * One copy in `address`'s folder under `key`: read by mailbox.MH with the expected headers,
 * trace lines for this recipient, and exactly the client's bytes after them.
 */
function checkCopy(
  folderView: Awaited<ReturnType<typeof readMh>>,
  key: number,
  address: string,
  mail: MailSpec,
  sent: Sent,
): MhMessage {
  const message = folderView.messages.get(key);
  assert.ok(message, `message ${key} missing for ${address}`);
  assert.equal(header(message, 'Subject'), mail.subject);
  // nodemailer lowercases domains in headers, smtplib keeps them as given.
  assert.deepEqual(addresses(header(message, 'From')), [mail.from].map(lowerDomain));
  assert.deepEqual(addresses(header(message, 'To')), mail.to.map(lowerDomain));
  if (mail.cc) assert.deepEqual(addresses(header(message, 'Cc')), mail.cc.map(lowerDomain));
  assert.equal(header(message, 'Bcc'), undefined, `no Bcc header in ${address}'s copy`);
  assert.ok(message.sequences.includes('unseen'), `message ${key} of ${address} is unseen`);
  const trace = splitTrace(message.raw);
  assert.equal(trace.returnPath, mail.from);
  assert.equal(trace.deliveredTo, lowerDomain(address));
  assert.match(
    trace.received,
    new RegExp(
      `^Received: from \\S+ \\(\\[127\\.0\\.0\\.1\\]\\) by \\S+ \\(test-mail-server\\) with ESMTP id \\w+ for <${escape(trace.deliveredTo)}>; `,
    ),
  );
  assert.ok(
    trace.message.equals(expectedStored(sent.bytes)),
    `${address}'s copy differs from the bytes the client sent`,
  );
  return message;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function checkOnlyMessage(
  server: TestMailServer,
  address: string,
  mail: MailSpec,
  sent: Sent,
): Promise<MhMessage> {
  const view = await readMh(folderOf(server, address));
  assert.deepEqual(view.keys, [1]);
  assert.equal(view.count, 1);
  assert.deepEqual(view.sequences, { unseen: [1] });
  return checkCopy(view, 1, address, mail, sent);
}

/** Every line ending is CRLF, some lines start with dots (stuffed on the wire), one is long. */
const plainText =
  'Hello from the compat test.\r\n.a line starting with a dot\r\n..two dots\r\n.\r\nTrailing spaces   \r\n' +
  'x'.repeat(70) +
  '\r\nBye\r\n';

/** Every byte value, so a binary attachment that survives is proof of byte-exact storage. */
const binary = Buffer.concat([
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from('\r\n.\r\n\0\r\r\n\n.end', 'latin1'),
]);

for (const client of clients) {
  test(`${client}: a plain text message reads back with mailbox.MH`, async () => {
    const server = await startServer();
    try {
      const mail: MailSpec = {
        from: 'ann@example.test',
        to: ['bob@example.test'],
        subject: `plain from ${client}`,
        text: plainText,
      };
      const sent = await send(client, server, mail);
      assert.deepEqual(sent.envelope.to, ['bob@example.test']);
      const message = await checkOnlyMessage(server, 'bob@example.test', mail, sent);
      assert.equal(message.parts.length, 1);
      assert.equal(message.parts[0].type, 'text/plain');
      assert.equal(message.parts[0].payload.toString('utf8').replace(/\r\n/g, '\n'), plainText.replace(/\r\n/g, '\n'));
    } finally {
      await server.close();
    }
  });

  test(`${client}: HTML with a binary attachment reads back with mailbox.MH, attachment bytes intact`, async () => {
    const server = await startServer();
    try {
      const mail: MailSpec = {
        from: 'ann@example.test',
        to: ['bob@example.test'],
        subject: `html from ${client}`,
        text: 'See the attachment.\n',
        html: '<p>See the <b>attachment</b>.</p>\n',
        attachment: { filename: 'blob.bin', contentType: 'application/octet-stream', content: binary },
      };
      const sent = await send(client, server, mail);
      const message = await checkOnlyMessage(server, 'bob@example.test', mail, sent);
      const html = message.parts.find((part) => part.type === 'text/html');
      assert.ok(html, 'an HTML part');
      assert.match(html.payload.toString('utf8'), /<p>See the <b>attachment<\/b>\.<\/p>/);
      const attachment = message.parts.find((part) => part.filename === 'blob.bin');
      assert.ok(attachment, 'the attachment part');
      assert.equal(attachment.type, 'application/octet-stream');
      assert.ok(attachment.payload.equals(binary), 'attachment bytes as sent');
    } finally {
      await server.close();
    }
  });

  test(`${client}: To + Cc recipients each get a copy; a second message numbers 2`, async () => {
    const server = await startServer();
    try {
      const mail: MailSpec = {
        from: 'ann@example.test',
        to: ['bob@example.test', 'carol@Other.Example'],
        cc: ['dave@example.test'],
        subject: `team from ${client}`,
        text: 'For all of you.\r\n',
      };
      const sent = await send(client, server, mail);
      // nodemailer lowercases envelope domains, smtplib keeps them: either way one mailbox.
      assert.deepEqual(sent.envelope.to.map((a) => a.toLowerCase()).sort(), [
        'bob@example.test',
        'carol@other.example',
        'dave@example.test',
      ]);
      const second: MailSpec = {
        from: 'ann@example.test',
        to: ['bob@example.test'],
        subject: `second from ${client}`,
        text: 'Just you.\r\n',
      };
      const sentSecond = await send(client, server, second);

      assert.deepEqual((await readdir(server.mailDir)).sort(), ['.locks', '.tmp', 'example.test', 'other.example']);
      const bob = await readMh(folderOf(server, 'bob@example.test'));
      assert.deepEqual(bob.keys, [1, 2]);
      assert.equal(bob.count, 2);
      assert.deepEqual(bob.sequences, { unseen: [1, 2] });
      checkCopy(bob, 1, 'bob@example.test', mail, sent);
      checkCopy(bob, 2, 'bob@example.test', second, sentSecond);
      await checkOnlyMessage(server, 'carol@Other.Example', mail, sent);
      await checkOnlyMessage(server, 'dave@example.test', mail, sent);
    } finally {
      await server.close();
    }
  });

  test(`${client}: a Bcc recipient gets a copy and nobody's copy has a Bcc header`, async () => {
    const server = await startServer();
    try {
      const mail: MailSpec = {
        from: 'ann@example.test',
        to: ['bob@example.test'],
        bcc: ['eve@example.test'],
        subject: `secret from ${client}`,
        text: 'Eve reads along.\r\n',
      };
      const sent = await send(client, server, mail);
      assert.deepEqual([...sent.envelope.to].sort(), ['bob@example.test', 'eve@example.test']);
      assert.doesNotMatch(sent.bytes.toString('latin1'), /^Bcc:/im, `${client} strips Bcc`);
      await checkOnlyMessage(server, 'bob@example.test', mail, sent);
      await checkOnlyMessage(server, 'eve@example.test', mail, sent);
      for (const folder of [folderOf(server, 'bob@example.test'), folderOf(server, 'eve@example.test')]) {
        assert.doesNotMatch(await readFile(path.join(folder, '1'), 'latin1'), /^Bcc:/im);
      }
    } finally {
      await server.close();
    }
  });
}

test('smtplib.sendmail: exact bytes with dot lines are stored byte for byte after the trace lines', async () => {
  const server = await startServer();
  try {
    const raw = Buffer.from(
      'From: ann@example.test\r\nTo: bob@example.test\r\nSubject: exact bytes\r\n\r\n' +
        '.\r\n..\r\n...three\r\n. space\r\nmiddle . dot\r\n\r\n\r\nlast line without newline',
      'latin1',
    );
    const sent = await sendRawWithSmtplib(server.smtpPort, 'ann@example.test', ['bob@example.test'], raw);
    assert.ok(sent.bytes.equals(raw));
    const view = await readMh(folderOf(server, 'bob@example.test'));
    assert.deepEqual(view.keys, [1]);
    const stored = await readFile(path.join(folderOf(server, 'bob@example.test'), '1'));
    // smtplib adds the CRLF the last line lacks; nothing else changes.
    assert.ok(splitTrace(stored).message.equals(Buffer.concat([raw, Buffer.from('\r\n')])));
    assert.equal(header(view.messages.get(1)!, 'Subject'), 'exact bytes');
  } finally {
    await server.close();
  }
});

test('Latin-1 8-bit body bytes are preserved byte for byte (BODY=8BITMIME)', async () => {
  const server = await startServer();
  try {
    const high = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i));
    const body = Buffer.concat([
      Buffer.from('caf\xe9, na\xefve, \xfcber, se\xf1or, \xa0nbsp, \xff\xfe\r\n', 'latin1'),
      high.subarray(0, 64),
      Buffer.from('\r\n'),
      high.subarray(64),
      Buffer.from('\r\n.\xe9 dotted\r\n', 'latin1'),
    ]);
    const raw = Buffer.concat([
      Buffer.from(
        'From: ann@example.test\r\nTo: bob@example.test\r\nSubject: latin-1\r\nMIME-Version: 1.0\r\n' +
          'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      ),
      body,
    ]);
    const sent = await sendRawWithSmtplib(server.smtpPort, 'ann@example.test', ['bob@example.test'], raw, [
      'BODY=8BITMIME',
    ]);
    assert.ok(sent.bytes.equals(raw));
    const view = await readMh(folderOf(server, 'bob@example.test'));
    assert.deepEqual(view.keys, [1]);
    assert.deepEqual(view.sequences, { unseen: [1] });
    const message = view.messages.get(1)!;
    assert.equal(header(message, 'Subject'), 'latin-1');
    assert.ok(splitTrace(message.raw).message.equals(raw), 'stored bytes equal the sent bytes');
    // The email parser hands 8-bit payloads back with LF line ends; the bytes are otherwise the same.
    const lf = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    assert.ok(lf(message.parts[0].payload).equals(lf(body)), 'mailbox.MH decodes the 8-bit body to the same bytes');
    assert.equal(
      message.parts[0].payload.toString('latin1').split('\n')[0],
      'café, naïve, über, señor, \u00a0nbsp, ÿþ',
    );
  } finally {
    await server.close();
  }
});

test('SMTPUTF8: a non-ASCII recipient lands in MAIL_DIR/<domain>/<local>/1 and mailbox.MH reads it', async () => {
  const server = await startServer();
  try {
    const raw = Buffer.from(
      'From: Ånn <ånn@exämple.test>\r\nTo: jösé@exämple.test, Zoë@ÉCOLE.Example\r\nSubject: Grüße aus Köln\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
        'Ünïcödé bödy ✓\r\n',
      'utf8',
    );
    const sent = await sendRawWithSmtplib(
      server.smtpPort,
      'ånn@exämple.test',
      ['jösé@exämple.test', 'Zoë@ÉCOLE.Example'],
      raw,
      ['SMTPUTF8', 'BODY=8BITMIME'],
    );
    assert.ok(sent.bytes.equals(raw));
    // The domain is lowercased (Unicode-aware), the local part kept as given.
    assert.ok(existsSync(path.join(server.mailDir, 'exämple.test', 'jösé', '1')));
    assert.ok(existsSync(path.join(server.mailDir, 'école.example', 'Zoë', '1')));
    for (const [folder, deliveredTo] of [
      [path.join(server.mailDir, 'exämple.test', 'jösé'), 'jösé@exämple.test'],
      [path.join(server.mailDir, 'école.example', 'Zoë'), 'Zoë@école.example'],
    ] as const) {
      const view = await readMh(folder);
      assert.deepEqual(view.keys, [1]);
      assert.equal(view.count, 1);
      assert.deepEqual(view.sequences, { unseen: [1] });
      const message = view.messages.get(1)!;
      assert.equal(header(message, 'Subject'), 'Grüße aus Köln');
      assert.equal(header(message, 'From'), 'Ånn <ånn@exämple.test>');
      assert.equal(header(message, 'To'), 'jösé@exämple.test, Zoë@ÉCOLE.Example');
      const trace = splitTrace(message.raw);
      assert.equal(trace.returnPath, 'ånn@exämple.test');
      assert.equal(trace.deliveredTo, deliveredTo);
      assert.ok(trace.message.equals(raw));
      assert.equal(message.parts[0].payload.toString('utf8').replace(/\r\n/g, '\n'), 'Ünïcödé bödy ✓\n');
    }
  } finally {
    await server.close();
  }
});
