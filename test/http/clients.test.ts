/**
 * The real clients against a listening app on the in-memory reader: `mailpit-api` and `mailhog`
 * as their users call them. (End-to-end with SMTP and the store follows once the store's reader lands.)
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import mailhog from 'mailhog';
import { MailpitClient } from 'mailpit-api';
import { createHttpServer } from '../../src/http/server.js';
import { MemoryReader } from './memory-reader.js';

async function listen(t: TestContext) {
  const reader = new MemoryReader();
  const app = await createHttpServer({ reader });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  await reader.deliver(
    'shop@example.test',
    ['ann@example.test', 'bob@example.test'],
    [
      'From: Shop <shop@example.test>',
      'To: Ann <ann@example.test>, bob@example.test',
      'Subject: Your order',
      'Message-ID: <o1@shop>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Thanks for your order',
      '',
    ].join('\r\n'),
  );
  return { reader, port };
}

test('mailpit-api lists, searches, reads, marks and deletes', async (t) => {
  const { reader, port } = await listen(t);
  const mailpit = new MailpitClient(`http://127.0.0.1:${port}`);
  const list = await mailpit.listMessages();
  assert.deepEqual([list.total, list.count, list.messages[0].Subject], [1, 1, 'Your order']);
  const found = await mailpit.searchMessages({ query: 'to:ann subject:order' });
  assert.equal(found.messages_count, 1);
  const message = await mailpit.getMessageSummary();
  assert.deepEqual(
    [message.Subject, message.MessageID, message.Text],
    ['Your order', 'o1@shop', 'Thanks for your order'],
  );
  assert.deepEqual((await mailpit.getMessageHeaders(message.ID))['Message-Id'], ['<o1@shop>']);
  assert.equal(await mailpit.getMessageSource(message.ID), (await reader.read(reader.allMessages()[0]))!.toString());
  assert.equal(await mailpit.renderMessageText(message.ID), 'Thanks for your order');
  assert.equal(await mailpit.setReadStatus({ IDs: [message.ID], Read: false }), 'ok');
  assert.equal((await mailpit.listMessages()).unread, 1);
  assert.equal(await mailpit.setTags({ IDs: [message.ID], Tags: ['Orders'] }), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Orders']);
  assert.equal(await mailpit.deleteMessages({ IDs: [message.ID] }), 'ok');
  assert.deepEqual(reader.allMessages(), []);
});

test('mailpit-api deleteMessages() without IDs deletes everything', async (t) => {
  const { reader, port } = await listen(t);
  assert.equal(await new MailpitClient(`http://127.0.0.1:${port}`).deleteMessages(), 'ok');
  assert.deepEqual(reader.allMessages(), []);
});

test('the mailhog client lists, searches, decodes and deletes, deleteAll included', async (t) => {
  const { reader, port } = await listen(t);
  const api = mailhog({ host: '127.0.0.1', port });
  const result = await api.messages();
  assert.equal(result?.count, 1);
  const [item] = result.items;
  assert.deepEqual(
    [item.subject, item.text?.trim(), item.to],
    ['Your order', 'Thanks for your order', 'Ann <ann@example.test>, bob@example.test'],
  );
  assert.equal((await api.latestTo('bob@example.test'))?.ID, item.ID);
  assert.equal((await api.latestFrom('nobody@example.test')) || undefined, undefined);
  assert.equal((await api.latestContaining('thanks'))?.ID, item.ID);
  await api.deleteAll();
  assert.deepEqual(reader.allMessages(), []);
});
