/** The JSON shapes of Mailpit and MailHog, and item IDs, built from what a real store holds after SMTP deliveries. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { ItemIndex } from '../../src/http/item-index.js';
import { findItem, itemId, parseItemId } from '../../src/http/items.js';
import type { MailReader } from '../../src/mailbox/reader.js';
import { contentFromString, mailhogMessage, pathFromString } from '../../src/http/mailhog.js';
import { canonicalHeaderName, headersMap, mailpitMessage, messageSummary } from '../../src/http/mailpit.js';
import { parseMessage } from '../../src/testing/message.js';
import { startServer } from '../helpers.js';
import { sendRaw } from '../testing/support.js';
import { send, sendWithPython, startHttp } from './support.js';

const order = [
  'From: Shop <shop@example.test>',
  'To: Ann Smith <ann@example.test>',
  'Cc: carl@example.test',
  'Subject: Your order',
  'Message-ID: <order-1@shop.example.test>',
  'Date: Sun, 01 Mar 2026 09:59:00 +0000',
  'List-Unsubscribe: <mailto:stop@shop.example.test>, <https://shop.example.test/stop>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Thanks  for your <b>order</b></p><img src="cid:logo@shop">',
  '--b1',
  'Content-Type: image/png',
  'Content-ID: <logo@shop>',
  'Content-Disposition: inline',
  'Content-Transfer-Encoding: base64',
  '',
  'iVBORw0KGgo=',
  '--b1',
  'Content-Type: application/pdf; name="invoice.pdf"',
  'Content-Disposition: attachment; filename="invoice.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'JVBERi0xLjQ=',
  '--b1--',
  '',
].join('\r\n');

/** The store's items, newest first, as the API groups them. */
function itemsOf(reader: MailReader) {
  const index = new ItemIndex(reader);
  const items = index.page(0, 0);
  index.close();
  return items;
}

/** The order, delivered by SMTP to three recipients (dave a blind copy), each copy summarized. */
async function deliverOrder(t: TestContext) {
  const server = await startServer();
  t.after(() => server.close());
  const reader = server.store;
  await sendRaw(server, 'shop@example.test', ['ann@example.test', 'carl@example.test', 'dave@example.test'], order);
  const copies = reader.allMessages();
  for (const copy of copies) await reader.summary(copy);
  return { server, reader, copies, item: itemsOf(reader)[0] };
}

test('the copies of one SMTP transaction are one item named by the transaction id', async (t) => {
  const { server, reader, copies, item } = await deliverOrder(t);
  await sendRaw(server, 'app@example.test', ['eve@example.test'], 'Subject: later\r\n\r\nhi\r\n');
  const items = itemsOf(reader);
  assert.equal(items.length, 2);
  assert.equal(item.id, copies[0].transaction);
  assert.deepEqual(
    items.map((i) => i.copies.map((c) => c.mailbox)),
    [['eve@example.test'], ['ann@example.test', 'carl@example.test', 'dave@example.test']],
    'newest first',
  );
});

test('a message without a transaction is an item of its own, with an ID that finds it again', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const reader = server.store;
  const appended = await reader.append(
    { mailbox: 'bob@doh.hi.gov', folder: 'INBOX' },
    Buffer.from('Subject: x\r\n\r\n'),
  );
  const id = itemId(appended);
  assert.match(id, /^c_[A-Za-z0-9_-]+$/);
  assert.deepEqual(parseItemId(id), { ref: { mailbox: 'bob@doh.hi.gov', folder: 'INBOX', number: 1 } });
  assert.equal(findItem(reader, id)?.copies[0], appended);
});

test('hostile and malformed IDs are unknown, and no decoded name reaches the store unchecked', async (t) => {
  const { reader } = await deliverOrder(t);
  const asked: unknown[] = [];
  const spy = new Proxy(reader, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === 'message' || property === 'read' || property === 'summary')
        return (...args: unknown[]) => {
          asked.push(args[0]);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  const encode = (parts: unknown) => `c_${Buffer.from(JSON.stringify(parts)).toString('base64url')}`;
  const hostile = [
    '../..',
    '..%2F..',
    '%2e%2e',
    'a\u0000b',
    'A'.repeat(10_000),
    encode(['../../etc', 'INBOX', 1]),
    encode(['ann@example.test', '../../../tmp', 1]),
    encode(['ann@example.test', 'INBOX', -1]),
    encode(['ann@example.test', 'INBOX']),
    'c_not-json',
    `t_${Buffer.from('../x').toString('base64url')}`,
    `t_${Buffer.from('T1X').toString('base64url')}`,
  ];
  for (const id of hostile) assert.equal(findItem(spy, id), undefined, id);
  assert.deepEqual(asked, []);
});

test('a Mailpit summary has every field in order, blind copies in Bcc and MessageID without brackets', async (t) => {
  const { item } = await deliverOrder(t);
  const summary = messageSummary(item, item.copies[0].summary!);
  assert.deepEqual(Object.keys(summary), [
    'ID',
    'MessageID',
    'Read',
    'From',
    'To',
    'Cc',
    'Bcc',
    'ReplyTo',
    'Subject',
    'Created',
    'Username',
    'Tags',
    'Size',
    'Attachments',
    'Snippet',
  ]);
  assert.equal(summary.MessageID, 'order-1@shop.example.test');
  assert.deepEqual(summary.From, { Name: 'Shop', Address: 'shop@example.test' });
  assert.deepEqual(summary.To, [{ Name: 'Ann Smith', Address: 'ann@example.test' }]);
  assert.deepEqual(summary.Bcc, [{ Name: '', Address: 'dave@example.test' }]);
  assert.deepEqual(summary.ReplyTo, []);
  assert.deepEqual(summary.Tags, []);
  assert.equal(summary.Attachments, 1, 'the inline image is not counted');
  assert.equal(summary.Created, item.copies[0].receivedAt.toISOString());
});

test('an item is read once every copy is, and its tags are the keywords of its copies', async (t) => {
  const { reader, copies } = await deliverOrder(t);
  const folder = { mailbox: copies[0].mailbox, folder: 'INBOX' };
  await reader.setFlags(folder, [copies[0].number], 'add', ['\\Seen', 'Work']);
  let item = itemsOf(reader)[0];
  assert.equal(messageSummary(item, item.copies[0].summary!).Read, false);
  assert.deepEqual(messageSummary(item, item.copies[0].summary!).Tags, ['Work']);
  for (const copy of copies.slice(1))
    await reader.setFlags({ mailbox: copy.mailbox, folder: 'INBOX' }, [copy.number], 'add', ['\\Seen']);
  item = itemsOf(reader)[0];
  assert.equal(messageSummary(item, item.copies[0].summary!).Read, true);
});

test('a Mailpit message splits inline parts from attachments and gives checksums', async (t) => {
  const { reader, item } = await deliverOrder(t);
  const [first] = item.copies;
  const parsed = await parseMessage((await reader.read(first))!, first);
  const message = mailpitMessage(item, parsed, first.summary!);
  assert.equal(message.ReturnPath, 'shop@example.test');
  assert.equal(message.Date, '2026-03-01T09:59:00.000Z');
  assert.equal(message.Text, '');
  assert.match(message.HTML, /<b>order<\/b>/);
  assert.deepEqual(
    message.Inline.map((p) => [p.FileName, p.ContentID, p.ContentType]),
    [['logo@shop', 'logo@shop', 'image/png']],
  );
  assert.deepEqual(
    message.Attachments.map((p) => [p.PartID, p.FileName, p.ContentType, p.Size]),
    [['2', 'invoice.pdf', 'application/pdf', 8]],
  );
  const pdf = Buffer.from('JVBERi0xLjQ=', 'base64');
  assert.deepEqual(message.Attachments[0].Checksums, {
    MD5: createHash('md5').update(pdf).digest('hex'),
    SHA1: createHash('sha1').update(pdf).digest('hex'),
    SHA256: createHash('sha256').update(pdf).digest('hex'),
  });
  assert.deepEqual(message.ListUnsubscribe, {
    Header: '<mailto:stop@shop.example.test>, <https://shop.example.test/stop>',
    Links: ['mailto:stop@shop.example.test', 'https://shop.example.test/stop'],
    Errors: '',
    HeaderPost: '',
  });
});

test('the headers map canonicalizes names as Go does, keeps every value and sorts the names', () => {
  assert.deepEqual(headersMap({ 'message-id': ['<a@b>'], received: ['one', 'two'], 'mime-version': ['1.0'] }), {
    'Message-Id': ['<a@b>'],
    'Mime-Version': ['1.0'],
    Received: ['one', 'two'],
  });
  assert.equal(canonicalHeaderName('x-MAILER'), 'X-Mailer');
  assert.deepEqual(Object.keys(headersMap(JSON.parse('{"__proto__":["x"]}') as Record<string, string[]>)), [
    '__proto__',
  ]);
});

test('MailHog content keeps header names as sent, the last of a repeated header, and the body encoded', () => {
  const data = 'Subject: Hi\r\nX-Tag: a\r\nX-Tag: b\r\nX-Long: one\r\n two\r\n\r\naGVsbG8=\r\n';
  const content = contentFromString(data);
  assert.deepEqual(content.Headers, { Subject: ['Hi'], 'X-Tag': ['b'], 'X-Long': ['one two'] });
  assert.equal(content.Body, 'aGVsbG8=\r\n');
  assert.equal(content.Size, data.length, 'the bytes of the whole message');
  assert.equal(content.MIME, null);
});

test('a MailHog MIME body is split on its boundary, preamble and closing "--" included, as MailHog does', () => {
  const content = contentFromString(
    'Content-Type: multipart/alternative; boundary=xyz\r\n\r\npre\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nplain\r\n--xyz\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--xyz--\r\n',
  );
  assert.deepEqual(
    content.MIME?.Parts.map((p) => [p.Headers, p.Body]),
    [
      [{}, 'pre'],
      [{ 'Content-Type': ['text/plain'] }, 'plain'],
      [{ 'Content-Type': ['text/html'] }, '<p>html</p>'],
      [{}, '--'],
    ],
  );
});

test('a MailHog message has envelope paths, Content without MIME, the parts beside it, and Raw', async (t) => {
  const { reader, item } = await deliverOrder(t);
  const [first] = item.copies;
  const message = mailhogMessage({
    id: item.id,
    envelope: first.envelope,
    receivedAt: first.receivedAt,
    raw: (await reader.read(first, { crlf: true }))!,
  });
  assert.deepEqual(Object.keys(message), ['ID', 'From', 'To', 'Content', 'Created', 'MIME', 'Raw']);
  assert.deepEqual(message.From, { Relays: null, Mailbox: 'shop', Domain: 'example.test', Params: '' });
  assert.deepEqual(
    message.To.map((p) => p.Mailbox),
    ['ann', 'carl', 'dave'],
  );
  assert.equal(message.Content.MIME, null);
  assert.deepEqual(message.Content.Headers['Subject'], ['Your order']);
  assert.equal(message.MIME?.Parts.length, 4);
  assert.deepEqual(message.MIME?.Parts[2].Headers['Content-Disposition'], ['attachment; filename="invoice.pdf"']);
  assert.deepEqual(message.Raw.To, ['ann@example.test', 'carl@example.test', 'dave@example.test']);
  assert.equal(message.Raw.Helo, 'client.test', 'the EHLO name, from our Received line');
  assert.equal(message.Raw.Data, (await reader.read(first))!.toString());
});

test('MailHog paths split relays, mailbox and domain', () => {
  assert.deepEqual(pathFromString(''), { Relays: null, Mailbox: '', Domain: '', Params: '' });
  assert.deepEqual(pathFromString('@a,@b:x@y.test'), {
    Relays: ['@a', '@b'],
    Mailbox: 'x',
    Domain: 'y.test',
    Params: '',
  });
});

/** Over HTTP, through Fastify's serializer, as a client gets it. */
async function getJson<T>(server: { httpUrl?: string }, route: string): Promise<T> {
  return (await fetch(`${server.httpUrl}${route}`)).json() as Promise<T>;
}

test('over HTTP, a plain message has its empty lists as [], MessageID without <>, and Date from its header', async (t) => {
  const server = await startHttp(t);
  const id = await sendWithPython(
    server,
    [
      'msg = EmailMessage()',
      'msg["From"] = "py@example.test"',
      'msg["To"] = "ann@example.test"',
      'msg["Subject"] = "Plain"',
      'msg["Message-ID"] = "<plain.1@example.test>"',
      'msg["Date"] = "Sun, 01 Mar 2026 11:59:00 +0200"',
      'msg.set_content("hello")',
    ].join('\n'),
  );
  const message = await getJson<Record<string, unknown>>(server, `/api/v1/message/${id}`);
  assert.deepEqual(
    ['Cc', 'Bcc', 'ReplyTo', 'Tags', 'Inline', 'Attachments'].map((key) => [key, message[key]]),
    ['Cc', 'Bcc', 'ReplyTo', 'Tags', 'Inline', 'Attachments'].map((key) => [key, []]),
  );
  assert.equal(message.MessageID, 'plain.1@example.test');
  assert.equal(message.Date, '2026-03-01T09:59:00.000Z');
  assert.deepEqual((message.ListUnsubscribe as { Links: unknown }).Links, []);
  const [summary] = (await getJson<{ messages: Array<Record<string, unknown>> }>(server, '/api/v1/messages')).messages;
  assert.deepEqual(
    [summary.MessageID, summary.Cc, summary.Bcc, summary.ReplyTo, summary.Tags, summary.Attachments],
    ['plain.1@example.test', [], [], [], [], 0],
  );
});

test("over HTTP, a summary's Snippet is the body as plain text, white space collapsed", async (t) => {
  const server = await startHttp(t);
  await send(server, {
    to: 'ann@example.test',
    subject: 'Styled',
    html: '<html><head><style>p { color: red }</style></head><body><p>Hello\n\n   <b>there</b></p>\t<p>friend &amp; more</p></body></html>',
  });
  const [summary] = (await getJson<{ messages: Array<{ Snippet: string }> }>(server, '/api/v1/messages')).messages;
  assert.equal(summary.Snippet, 'Hello there friend & more');
});

test('over HTTP, an inline image is in Inline, not in Attachments, and the summary counts only the attachment', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, {
    to: 'ann@example.test',
    subject: 'With logo',
    html: '<p>Hi</p><img src="cid:logo@app">',
    attachments: [
      { filename: 'logo.png', content: Buffer.from('iVBORw0KGgo=', 'base64'), cid: 'logo@app' },
      { filename: 'terms.txt', content: 'terms' },
    ],
  });
  const message = await getJson<{ Inline: Array<{ ContentID: string }>; Attachments: Array<{ FileName: string }> }>(
    server,
    `/api/v1/message/${id}`,
  );
  assert.deepEqual(
    message.Inline.map((part) => part.ContentID),
    ['logo@app'],
  );
  assert.deepEqual(
    message.Attachments.map((part) => part.FileName),
    ['terms.txt'],
  );
  const [summary] = (await getJson<{ messages: Array<{ Attachments: number }> }>(server, '/api/v1/messages')).messages;
  assert.equal(summary.Attachments, 1);
});
