/**
 * The real clients as their users call them, against a real server: `mailpit-api` for every
 * Mailpit endpoint it has, and the `mailhog` client for MailHog's. Mail comes in by SMTP
 * (nodemailer), and results are checked against the files in MAIL_DIR.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import mailhog from 'mailhog';
import { MailpitClient } from 'mailpit-api';
import { python } from '../helpers.js';
import { folderOf, readWithPython, send, startHttp } from './support.js';

/**
 * An order to two recipients; with an attachment unless `plain` (the `mailhog` client, as MailHog's
 * UI, takes a message's text from its top-level parts only, where nodemailer puts the attachment).
 */
async function withOrder(t: TestContext, plain = false) {
  const server = await startHttp(t);
  const id = await send(server, {
    from: 'Shop <shop@example.test>',
    to: 'Ann <ann@example.test>, bob@example.test',
    subject: 'Your order',
    messageId: '<o1@shop>',
    text: 'Thanks for your order',
    ...(plain
      ? {}
      : {
          html: '<p>Thanks for your <b>order</b></p>',
          attachments: [{ filename: 'invoice.txt', content: 'total: 42' }],
        }),
  });
  const mailpit = new MailpitClient(server.httpUrl!);
  return { server, id, mailpit };
}

const annFile = (server: Parameters<typeof folderOf>[0]) => path.join(folderOf(server, 'ann@example.test'), '1');

test('mailpit-api lists, searches and waits (its polling waits ride on search)', async (t) => {
  const { mailpit, id } = await withOrder(t);
  const list = await mailpit.listMessages();
  assert.deepEqual([list.total, list.count, list.messages[0].ID, list.messages[0].Subject], [1, 1, id, 'Your order']);
  const found = await mailpit.searchMessages({ query: 'to:ann subject:order' });
  assert.equal(found.messages_count, 1);
  assert.equal((await mailpit.waitForMessage({ query: 'subject:order' })).ID, id);
  assert.equal((await mailpit.waitForMessages({ query: 'order', count: 1 })).messages_count, 1);
});

test('mailpit-api reads a message: summary, headers, source, the attachment, HTML and text views', async (t) => {
  const { server, mailpit, id } = await withOrder(t);
  const message = await mailpit.getMessageSummary();
  assert.deepEqual(
    [message.ID, message.Subject, message.MessageID, message.Text],
    [id, 'Your order', 'o1@shop', 'Thanks for your order'],
  );
  assert.deepEqual((await mailpit.getMessageHeaders(id))['Message-Id'], ['<o1@shop>']);
  assert.equal(await mailpit.getMessageSource(id), readFileSync(annFile(server), 'utf8'));
  const [attachment] = message.Attachments;
  const blob = await mailpit.getMessageAttachment(id, attachment.PartID);
  assert.deepEqual([blob.type, await blob.text()], ['text/plain', 'total: 42']);
  assert.match(await mailpit.renderMessageHTML(id), /<b>order<\/b>/);
  assert.equal(await mailpit.renderMessageText(id), 'Thanks for your order');
});

test('mailpit-api marks read and unread, and .mh_sequences follows', async (t) => {
  const { server, mailpit, id } = await withOrder(t);
  assert.equal(await mailpit.setReadStatus({ IDs: [id], Read: true }), 'ok');
  assert.deepEqual((await readWithPython(server, 'bob@example.test')).sequences, {});
  assert.equal((await mailpit.listMessages()).unread, 0);
  assert.equal(await mailpit.setReadStatus({ IDs: [id], Read: false }), 'ok');
  assert.deepEqual((await readWithPython(server, 'bob@example.test')).sequences, { unseen: [1] });
});

test('mailpit-api sets, lists, renames and deletes tags, each an MH sequence in every copy', async (t) => {
  const { server, mailpit, id } = await withOrder(t);
  assert.equal(await mailpit.setTags({ IDs: [id], Tags: ['Orders'] }), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Orders']);
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).sequences, { unseen: [1], Orders: [1] });
  assert.equal(await mailpit.renameTag('Orders', 'Paid'), 'ok');
  assert.deepEqual((await readWithPython(server, 'bob@example.test')).sequences, { unseen: [1], Paid: [1] });
  assert.equal(await mailpit.deleteTag('Paid'), 'ok');
  assert.deepEqual(await mailpit.getTags(), []);
});

test('mailpit-api sends a message, which lands in each mailbox', async (t) => {
  const { server, mailpit } = await withOrder(t);
  const { ID } = await mailpit.sendMessage({
    From: { Email: 'app@example.test' },
    To: [{ Email: 'carl@example.test', Name: 'Carl' }],
    Subject: 'Sent by API',
    Text: 'hello',
  });
  assert.equal((await mailpit.getMessageSummary(ID)).Subject, 'Sent by API');
  assert.match(
    readFileSync(path.join(folderOf(server, 'carl@example.test'), '1'), 'utf8'),
    /^Subject: Sent by API\r$/m,
  );
});

test('mailpit-api deletes by ID, by search, and all; the files go with them', async (t) => {
  const { server, mailpit, id } = await withOrder(t);
  const other = await send(server, { to: 'carl@example.test', subject: 'Other' });
  const third = await send(server, { to: 'dave@example.test', subject: 'Third' });
  assert.equal(await mailpit.deleteMessages({ IDs: [id] }), 'ok');
  assert.equal(existsSync(annFile(server)), false);
  assert.equal(await mailpit.deleteMessagesBySearch({ query: 'subject:other' }), 'ok');
  assert.deepEqual(
    (await mailpit.listMessages()).messages.map((m) => m.ID),
    [third],
  );
  assert.notEqual(other, third);
  assert.equal(await mailpit.deleteMessages(), 'ok');
  assert.deepEqual(server.store.allMessages(), []);
  assert.deepEqual((await readWithPython(server, 'dave@example.test')).keys, []);
});

test('mailpit-api reads the server info, the web UI settings and the chaos triggers', async (t) => {
  const { mailpit } = await withOrder(t);
  const info = await mailpit.getInfo();
  assert.deepEqual([info.Messages, info.Unread], [1, 1]);
  assert.equal((await mailpit.getConfiguration()).ChaosEnabled, true);
  await mailpit.setChaosTriggers({ Sender: { ErrorCode: 451, Probability: 100 } });
  assert.equal((await mailpit.getChaosTriggers()).Sender.Probability, 100);
});

test('the mailhog client lists, searches and decodes, with envelope paths', async (t) => {
  const { server, id } = await withOrder(t, true);
  const api = mailhog({ host: '127.0.0.1', port: server.httpPort });
  const result = await api.messages();
  assert.equal(result?.count, 1);
  const [item] = result.items;
  assert.deepEqual(
    [item.ID, item.subject, item.text?.trim(), item.to],
    [id, 'Your order', 'Thanks for your order', 'Ann <ann@example.test>, bob@example.test'],
  );
  const raw = item as unknown as { To: Array<{ Mailbox: string; Domain: string }> };
  assert.deepEqual(
    raw.To.map((to) => `${to.Mailbox}@${to.Domain}`),
    ['ann@example.test', 'bob@example.test'],
  );
  assert.equal((await api.search('bob@example.test', 'to'))?.count, 1);
  assert.equal((await api.latestTo('bob@example.test'))?.ID, id);
  assert.equal((await api.latestFrom('nobody@example.test')) || undefined, undefined);
  assert.equal((await api.latestContaining('thanks'))?.ID, id);
});

test('the mailhog client deletes one message, then all, and the files go', async (t) => {
  const { server, id } = await withOrder(t);
  await send(server, { to: 'carl@example.test', subject: 'Other' });
  const api = mailhog({ host: '127.0.0.1', port: server.httpPort });
  await api.deleteMessage(id);
  assert.equal(existsSync(annFile(server)), false);
  assert.equal((await api.messages())?.count, 1);
  await api.deleteAll();
  assert.deepEqual(server.store.allMessages(), []);
  assert.deepEqual((await readWithPython(server, 'carl@example.test')).keys, []);
});

/** Sent with Python's smtplib (EHLO python.test), header names in the case the sender wrote them. */
async function sendOddlyCased(server: Parameters<typeof folderOf>[0] & { smtpPort: number }): Promise<string> {
  const message = [
    'From: shop@example.test',
    'To: ann@example.test',
    'SUBJECT: Cased',
    'X-Custom-HEADER: kept',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9',
    '--b',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    'PHA+Y2Fmw6k8L3A+',
    '--b--',
    '',
  ].join('\r\n');
  // sendmail raises unless every recipient is accepted.
  await python(
    'import smtplib, sys\nwith smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as smtp:\n' +
      '    smtp.ehlo("python.test")\n' +
      '    smtp.sendmail("bounce@example.test", ["ann@example.test", "bob@example.test"], sys.argv[2].encode())',
    [String(server.smtpPort), message],
  );
  return ((await (await fetch(`${server.httpUrl}/api/v2/messages`)).json()) as { items: Array<{ ID: string }> })
    .items[0].ID;
}

test("MailHog's GET /api/v1/messages/{id}: header names as sent, bodies still encoded, the parts, and Raw", async (t) => {
  const server = await startHttp(t);
  const id = await sendOddlyCased(server);
  const message = (await (await fetch(`${server.httpUrl}/api/v1/messages/${id}`)).json()) as {
    ID: string;
    Content: { Headers: Record<string, string[]>; Body: string };
    MIME: { Parts: Array<{ Headers: Record<string, string[]>; Body: string }> };
    Raw: { From: string; To: string[]; Data: string; Helo: string };
  };
  assert.equal(message.ID, id);
  assert.deepEqual(
    [message.Content.Headers['SUBJECT'], message.Content.Headers['X-Custom-HEADER']],
    [['Cased'], ['kept']],
  );
  assert.equal(message.Content.Headers['Subject'], undefined);
  assert.match(message.Content.Body, /\r\ncaf=C3=A9\r\n/);
  assert.deepEqual(
    message.MIME.Parts.filter((part) => part.Body !== '' && part.Body !== '--').map((part) => part.Body),
    ['caf=C3=A9', 'PHA+Y2Fmw6k8L3A+'],
  );
  assert.deepEqual(
    [message.Raw.From, message.Raw.To, message.Raw.Helo],
    ['bounce@example.test', ['ann@example.test', 'bob@example.test'], 'python.test'],
  );
  assert.equal(message.Raw.Data, readFileSync(annFile(server), 'utf8'));
});

test("MailHog's download is the stored file byte for byte, as an attachment", async (t) => {
  const server = await startHttp(t);
  const id = await sendOddlyCased(server);
  const response = await fetch(`${server.httpUrl}/api/v1/messages/${id}/download`);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), readFileSync(annFile(server)));
  assert.equal(response.headers.get('content-disposition'), `attachment; filename="${id}.eml"`);
});

test('mailpit-api marks read by search and pages the list with start and limit', async (t) => {
  const { server, mailpit, id } = await withOrder(t);
  const other = await send(server, { to: 'carl@example.test', subject: 'Other' });
  assert.equal(await mailpit.setReadStatus({ Search: 'mailbox:bob@example.test', Read: true }), 'ok');
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).sequences, {});
  assert.deepEqual((await readWithPython(server, 'carl@example.test')).sequences, { unseen: [1] });
  const pages = [await mailpit.listMessages(0, 1), await mailpit.listMessages(1, 1)];
  assert.deepEqual(
    pages.map((page) => [page.start, page.count, page.total, page.unread, page.messages[0].ID]),
    [
      [0, 1, 2, 1, other],
      [1, 1, 2, 1, id],
    ],
  );
});
