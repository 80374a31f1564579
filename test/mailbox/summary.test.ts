/**
 * The index's summaries, side by side with a full parse by postal-mime (what the test helpers
 * use) over messages as nodemailer and Python compose them: the same headers, counts and text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import PostalMime from 'postal-mime';
import { headerAddresses } from '../../src/mailbox/addresses.js';
import { htmlToText, summarize } from '../../src/mailbox/summary.js';
import { python } from '../helpers.js';

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

const composed: Record<string, Mail.Options> = {
  'text only': { text: 'Hello Ann,\n\nyour order shipped.\n' },
  'html only': { html: '<html><head><style>p{}</style></head><body><p>Hi&nbsp;<b>Ann</b> &amp; co</p></body></html>' },
  alternative: { text: 'Plain version', html: '<p>HTML version</p>' },
  'quoted-printable, latin1, long lines': {
    text: `Grüße aus Köln – ${'ein langer Satz '.repeat(20)}`,
    textEncoding: 'quoted-printable',
    encoding: 'utf-8',
  },
  'base64 body': { text: 'base64 bodies decode too', textEncoding: 'base64' },
  'attachments and an inline image': {
    text: 'see attached',
    html: '<p>logo: <img src="cid:logo@app"></p>',
    attachments: [
      { filename: 'report.pdf', content: Buffer.from('%PDF-1.4 fake'), contentType: 'application/pdf' },
      { filename: 'notes.txt', content: 'a text file, attached' },
      { filename: 'logo.png', content: png, cid: 'logo@app' },
    ],
  },
  'encoded subject and names, groups': {
    subject: 'Ünïcödé – 🎉 party',
    from: '"Zoë Ö" <zoe@example.test>',
    to: 'Team: ann@example.test, "Bob B." <bob@example.test>;',
    cc: 'carl@example.test',
    replyTo: 'help@example.test',
    text: 'x',
  },
};

async function compose(options: Mail.Options): Promise<Buffer> {
  return new MailComposer({
    from: 'App <app@example.test>',
    to: 'ann@example.test',
    subject: 'Hello',
    date: new Date('2026-11-24T09:05:03Z'),
    messageId: '<m1@example.test>',
    ...options,
  })
    .compile()
    .build();
}

async function sideBySide(name: string, raw: Buffer): Promise<void> {
  const { summary: ours, searchText } = summarize(raw);
  const full = await PostalMime.parse(raw);
  const inline = full.attachments.filter(
    (part) => part.contentId !== undefined && part.disposition !== 'attachment',
  ).length;
  assert.equal(ours.subject, full.subject ?? '', name);
  assert.deepEqual(ours.from, headerAddresses(full.from ? [full.from] : [])[0], name);
  assert.deepEqual(ours.to, headerAddresses(full.to), name);
  assert.deepEqual(ours.cc, headerAddresses(full.cc), name);
  assert.deepEqual(ours.replyTo, headerAddresses(full.replyTo), name);
  assert.equal(ours.messageId, (full.messageId ?? '').replace(/^<(.*)>$/, '$1'), name);
  assert.equal(ours.date?.getTime(), full.date === undefined ? undefined : new Date(full.date).getTime(), name);
  assert.deepEqual([ours.attachments, ours.inline], [full.attachments.length - inline, inline], name);
  // The text part postal-mime finds, else the HTML as text, white space collapsed.
  const text = (full.text || htmlToText(full.html ?? '')).replace(/\s+/g, ' ').trim();
  assert.ok(
    text.startsWith(ours.snippet.replace(/\.\.\.$/, '')),
    `${name}: snippet ${JSON.stringify(ours.snippet)} vs ${JSON.stringify(text.slice(0, 220))}`,
  );
  assert.ok(ours.snippet.length <= 203, name);
  for (const word of text.toLowerCase().split(' ').slice(0, 20))
    assert.ok(searchText.includes(word.replace(/[<>",;()]/g, '')), `${name}: ${word}`);
}

for (const [name, options] of Object.entries(composed)) {
  test(`summary of a message nodemailer composes (${name}) agrees with a full parse`, async () => {
    await sideBySide(name, await compose(options));
  });
}

test('summary of messages Python composes (multipart, attachment, 8-bit) agrees with a full parse', async () => {
  const script = `
import sys
from email.message import EmailMessage
msg = EmailMessage()
msg["From"] = "Ann <ann@example.test>"; msg["To"] = "bob@example.test"; msg["Subject"] = "Grüße"; msg["Message-ID"] = "<py@x>"
msg["Date"] = "Tue, 24 Nov 2026 09:05:03 +0000"
msg.set_content("Hallo Bob, schöne Grüße")
msg.add_alternative("<p>Hallo <i>Bob</i></p>", subtype="html")
msg.add_attachment(b"\\x00\\x01binary", maintype="application", subtype="octet-stream", filename="data.bin")
sys.stdout.buffer.write(msg.as_bytes())`;
  const raw = Buffer.from(await python(script), 'utf8');
  await sideBySide('python', raw);
  assert.deepEqual(
    [summarize(raw).summary.attachments, summarize(raw).summary.snippet],
    [1, 'Hallo Bob, schöne Grüße'],
  );
});

test('hostile nesting and a missing boundary are summarized without deep recursion or a throw', () => {
  let nested = 'text';
  for (let i = 0; i < 100; i++)
    nested = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${nested}\r\n--b${i}--\r\n`;
  const deep = summarize(Buffer.from(`Subject: deep\r\n${nested}`)).summary;
  assert.equal(deep.subject, 'deep');
  assert.equal(summarize(Buffer.from('Content-Type: multipart/mixed\r\n\r\nno boundary')).summary.snippet, '');
  assert.equal(summarize(Buffer.from('')).summary.subject, '');
});

test('HTML becomes the text a reader sees: no head, script or style, entities decoded', () => {
  assert.equal(
    htmlToText('<head><title>T</title></head><script>alert(1)</script><p>a&lt;b &#x41;&#66;</p><!-- hidden -->')
      .replace(/\s+/g, ' ')
      .trim(),
    'a<b AB',
  );
});
