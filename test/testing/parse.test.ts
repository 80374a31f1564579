import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { extractLinks } from '../../src/testing/message.js';
import { tempDir } from '../helpers.js';
import { clientKinds, send, sendRaw, sendWithPython, testEachClient } from './support.js';

testEachClient('a parsed message: multi-valued headers, addresses, envelope, trace lines, raw bytes', async (mail) => {
  await send(mail, {
    from: '"Shop, Inc." <shop@example.test>',
    to: ['Ann <ann@example.test>', 'bob@example.test'],
    cc: 'Team: carl@example.test, dave@example.test;',
    replyTo: 'Help <help@example.test>',
    subject: 'Headers',
    text: 'x',
    messageId: '<m1@shop.test>',
    date: new Date('2030-01-02T03:04:05Z'),
    headers: { 'X-Tag': ['one', 'two'], 'X-Single': 'only' },
  });
  const msg = await mail.waitForMessage({ mailbox: 'bob@example.test' });
  assert.deepEqual(msg.headers['x-tag'], ['one', 'two']);
  assert.deepEqual(msg.headers['x-single'], ['only']);
  assert.deepEqual(msg.headers['delivered-to'], ['bob@example.test']);
  assert.deepEqual(msg.headers['return-path'], ['<shop@example.test>']);
  assert.equal(msg.headers['received'].length, 1);
  assert.match(msg.headers['received'][0], /\(test-mail-server\) with ESMTP id .*for <bob@example\.test>;/);
  assert.deepEqual(msg.from, { name: 'Shop, Inc.', address: 'shop@example.test' });
  assert.deepEqual(msg.to, [
    { name: 'Ann', address: 'ann@example.test' },
    { name: '', address: 'bob@example.test' },
  ]);
  // A group is flattened into its members.
  assert.deepEqual(msg.cc, [
    { name: '', address: 'carl@example.test' },
    { name: '', address: 'dave@example.test' },
  ]);
  assert.deepEqual(msg.replyTo, [{ name: 'Help', address: 'help@example.test' }]);
  assert.equal(msg.messageId, '<m1@shop.test>');
  assert.deepEqual(msg.date, new Date('2030-01-02T03:04:05Z'));
  assert.deepEqual(msg.envelope, {
    from: 'shop@example.test',
    to: ['ann@example.test', 'bob@example.test', 'carl@example.test', 'dave@example.test'],
  });
  assert.equal(msg.mailbox, 'bob@example.test');
  assert.equal(msg.number, 1);
  assert.ok(msg.receivedAt instanceof Date && Date.now() - msg.receivedAt.getTime() < 10_000);
  // raw is the stored file, trace lines first.
  const file = await readFile(path.join(mail.mailDir, 'example.test', 'bob', '1'));
  assert.ok(msg.raw.equals(file));
  assert.equal(msg.size, file.length);
  assert.match(
    msg.raw.toString('latin1'),
    /^Return-Path: <shop@example\.test>\r\nDelivered-To: bob@example\.test\r\nReceived: /,
  );
  assert.deepEqual(msg.attachments, []);
  assert.equal(msg.html, undefined);
});

testEachClient('a header repeated by the client keeps every value in order, after our trace lines', async (mail) => {
  const message =
    'Received: from relay2.test by relay1.test; Mon, 1 Jan 2024 00:00:02 +0000\r\n' +
    'Received: from origin.test by relay2.test; Mon, 1 Jan 2024 00:00:01 +0000\r\n' +
    'X-Folded: first part\r\n  continued\r\n' +
    'Subject: relayed\r\n\r\nbody\r\n';
  await sendRaw(mail, 'a@example.test', ['ann@example.test'], message);
  const msg = await mail.waitForMessage({ subject: 'relayed' });
  const received = msg.headers['received'];
  assert.equal(received.length, 3);
  assert.match(received[0], /test-mail-server/);
  assert.match(received[1], /^from relay2\.test/);
  assert.match(received[2], /^from origin\.test/);
  assert.deepEqual(msg.headers['x-folded'], ['first part  continued']);
  assert.equal(msg.text, 'body');
  assert.equal(msg.from, undefined);
  assert.deepEqual(msg.to, []);
});

testEachClient(
  'bodies and headers in other charsets (Python smtplib): ISO-8859-1 quoted-printable, UTF-8 base64 and quoted-printable',
  async (mail) => {
    await sendWithPython(
      mail,
      [
        'msg = EmailMessage()',
        'msg["From"] = "José Müller <jose@example.test>"',
        'msg["To"] = "Zoë <zoe@example.test>"',
        'msg["Subject"] = "Café crème — déjà vu"',
        'msg.set_content("Le café est prêt.\\nÀ bientôt!\\n", charset="iso-8859-1", cte="quoted-printable")',
      ].join('\n'),
    );
    await sendWithPython(
      mail,
      [
        'msg = EmailMessage()',
        'msg["From"] = "app@example.test"',
        'msg["To"] = "zoe@example.test"',
        'msg["Subject"] = "日本語のテスト"',
        'msg.set_content("Grüße aus Köln — 日本語\\n", charset="utf-8", cte="base64")',
        'msg.add_alternative("<p>Grüße — <a href=\\"https://example.test/köln?x=1&amp;y=2\\">Köln</a></p>\\n", subtype="html", charset="utf-8", cte="quoted-printable")',
      ].join('\n'),
    );
    const latin = await mail.waitForMessage({ subject: /^Café/ });
    assert.equal(latin.subject, 'Café crème — déjà vu');
    assert.deepEqual(latin.from, { name: 'José Müller', address: 'jose@example.test' });
    assert.deepEqual(latin.to, [{ name: 'Zoë', address: 'zoe@example.test' }]);
    assert.match(latin.raw.toString('latin1'), /charset="iso-8859-1"/);
    assert.match(latin.raw.toString('latin1'), /caf=E9/);
    assert.equal(latin.text, 'Le café est prêt.\nÀ bientôt!');

    const utf8 = await mail.waitForMessage({ subject: '日本語のテスト' });
    assert.match(utf8.raw.toString('latin1'), /Content-Transfer-Encoding: base64/);
    assert.equal(utf8.text, 'Grüße aus Köln — 日本語');
    assert.equal(utf8.html, '<p>Grüße — <a href="https://example.test/köln?x=1&amp;y=2">Köln</a></p>');
    assert.deepEqual(utf8.links, ['https://example.test/köln?x=1&y=2']);
  },
);

testEachClient('an ISO-8859-1 base64 body and an 8-bit one sent as raw bytes', async (mail) => {
  const latin1 = Buffer.from('Größe: 5 €? Non, 5 ¤.', 'latin1');
  await sendRaw(
    mail,
    'a@example.test',
    ['ann@example.test'],
    `Subject: b64\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n${latin1.toString('base64')}\r\n`,
  );
  await sendRaw(
    mail,
    'a@example.test',
    ['ann@example.test'],
    Buffer.concat([
      Buffer.from(
        'Subject: 8bit\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      ),
      Buffer.from('naïve façade\r\n', 'latin1'),
    ]),
  );
  assert.equal((await mail.waitForMessage({ subject: 'b64' })).text, latin1.toString('latin1'));
  assert.equal((await mail.waitForMessage({ subject: '8bit' })).text, 'naïve façade');
});

testEachClient('attachments keep their bytes; an inline image has its contentId', async (mail) => {
  const binary = randomBytes(150_000);
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  await send(mail, {
    to: 'ann@example.test',
    subject: 'Files',
    text: 'see attached',
    html: '<p><img src="cid:logo@app.test" alt="logo"></p>',
    attachments: [
      { filename: 'data.bin', content: binary },
      { filename: 'report.csv', content: 'a,b\n1,2\n', contentType: 'text/csv' },
      { filename: 'logo.png', content: png, cid: 'logo@app.test' },
    ],
  });
  const msg = await mail.waitForMessage({ subject: 'Files' });
  const byName = new Map(msg.attachments.map((a) => [a.filename, a]));
  assert.equal(msg.attachments.length, 3);
  const data = byName.get('data.bin')!;
  assert.ok(data.content.equals(binary), 'binary content is byte-for-byte the same');
  assert.equal(data.size, binary.length);
  assert.equal(data.contentType, 'application/octet-stream');
  assert.equal(data.disposition, 'attachment');
  assert.equal(data.contentId, undefined);
  assert.equal(data.related, false);
  const csv = byName.get('report.csv')!;
  assert.equal(csv.contentType, 'text/csv');
  assert.equal(csv.content.toString(), 'a,b\n1,2\n');
  const logo = byName.get('logo.png')!;
  assert.equal(logo.contentId, 'logo@app.test');
  assert.equal(logo.disposition, 'inline');
  assert.equal(logo.related, true);
  assert.equal(logo.contentType, 'image/png');
  assert.ok(logo.content.equals(png));
  assert.equal(msg.text, 'see attached');
  assert.match(msg.html!, /cid:logo@app\.test/);
});

testEachClient('attachments sent by Python smtplib', async (mail) => {
  await sendWithPython(
    mail,
    [
      'msg = EmailMessage()',
      'msg["From"] = "app@example.test"',
      'msg["To"] = "ann@example.test"',
      'msg["Subject"] = "Report"',
      'msg.set_content("Your report.")',
      'msg.add_attachment(bytes(range(256)) * 4, maintype="application", subtype="pdf", filename="Bericht für März.pdf")',
    ].join('\n'),
  );
  const msg = await mail.waitForMessage({ subject: 'Report' });
  assert.equal(msg.attachments.length, 1);
  const [pdf] = msg.attachments;
  assert.equal(pdf.filename, 'Bericht für März.pdf');
  assert.equal(pdf.contentType, 'application/pdf');
  assert.equal(pdf.size, 1024);
  assert.ok(
    pdf.content.equals(
      Buffer.concat(Array.from({ length: 4 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i)))),
    ),
  );
});

testEachClient('links come from the HTML hrefs and the URLs in the text, each once', async (mail) => {
  await send(mail, {
    to: 'ann@example.test',
    subject: 'Links',
    html:
      '<p><a href="https://app.test/confirm?token=abc&amp;u=1">Confirm</a> ' +
      "<a class='x' href='https://app.test/unsubscribe'>Unsubscribe</a> " +
      '<!-- <a href="https://app.test/commented-out">no</a> -->' +
      '<A HREF=https://app.test/upper>up</A> <a href="mailto:help@app.test">mail us</a> ' +
      '<map><area shape="rect" href="https://app.test/area"></map> <a name="top">anchor</a> <a href="">empty</a></p>',
    text: 'Confirm: https://app.test/confirm?token=abc&u=1\nDocs (https://app.test/docs/a_(b)) and <https://app.test/bracketed>.\nSee https://app.test/end.',
  });
  const msg = await mail.waitForMessage({ subject: 'Links' });
  assert.deepEqual(msg.links, [
    'https://app.test/confirm?token=abc&u=1',
    'https://app.test/unsubscribe',
    'https://app.test/upper',
    'mailto:help@app.test',
    'https://app.test/area',
    'https://app.test/docs/a_(b)',
    'https://app.test/bracketed',
    'https://app.test/end',
  ]);
});

test('extractLinks works on either body alone', () => {
  assert.deepEqual(extractLinks(undefined, 'Go to http://a.test/x, then https://b.test/y?z=1; done!'), [
    'http://a.test/x',
    'https://b.test/y?z=1',
  ]);
  assert.deepEqual(extractLinks('<a\nhref = "/relative?a=1&#38;b=&#x32;">r</a>', undefined), ['/relative?a=1&b=2']);
  assert.deepEqual(extractLinks(undefined, undefined), []);
});

for (const kind of clientKinds)
  test(`messages stored before the server started are read from their trace lines, the copies of one message sharing its envelope [${kind.label}]`, async () => {
    const mailDir = await tempDir();
    const first = await kind.start({ mailDir });
    await send(first, { to: 'ann@example.test', cc: 'bob@example.test', subject: 'from an earlier run' });
    const sentAt = (await first.waitForMessage()).receivedAt;
    await first.close();

    const second = await kind.start({ mailDir });
    try {
      const copies = await second.messages({ subject: 'from an earlier run' });
      assert.deepEqual(
        copies.map((m) => [m.mailbox, m.envelope]),
        [
          ['ann@example.test', { from: 'app@example.test', to: ['ann@example.test', 'bob@example.test'] }],
          ['bob@example.test', { from: 'app@example.test', to: ['ann@example.test', 'bob@example.test'] }],
        ],
      );
      // Our Received line has whole seconds.
      assert.equal(copies[0].receivedAt.getTime(), Math.floor(sentAt.getTime() / 1000) * 1000);
      // Each copy's envelope names both recipients, as a delivery's would.
      assert.deepEqual(
        (await second.messages({ bcc: 'bob@example.test' })).map((m) => m.mailbox),
        ['ann@example.test', 'bob@example.test'],
      );
      await send(second, { to: 'ann@example.test', subject: 'new' });
      assert.deepEqual(
        (await second.mailbox('ann@example.test')).map((m) => [m.number, m.subject]),
        [
          [1, 'from an earlier run'],
          [2, 'new'],
        ],
      );
    } finally {
      await second.close();
    }
  });
