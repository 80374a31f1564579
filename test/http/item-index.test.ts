/** The items kept from the change stream, on a real store: order, copies, removal in bulk, folders, and late copies. */
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ItemIndex } from '../../src/http/item-index.js';
import { traceHeader } from '../../src/mailbox/trace.js';
import { createLogger } from '../../src/log.js';
import { MailStore } from '../../src/mailbox/store.js';
import { startServer, tempDir } from '../helpers.js';
import { send, folderOf } from './support.js';

async function withIndex(t: TestContext) {
  const server = await startServer();
  t.after(() => server.close());
  const index = new ItemIndex(server.store);
  t.after(() => index.close());
  const subjects = async () =>
    Promise.all(index.page(0, 0).map(async (item) => (await server.store.summary(item.copies[0]))?.subject));
  return { server, index, subjects };
}

test('items follow the stream: newest first, one per transaction, gone with their last copy', async (t) => {
  const { server, index, subjects } = await withIndex(t);
  const removed: string[][] = [];
  index.on('removed', (ids) => removed.push([...ids]));
  const both = await send(server, { to: 'ann@example.test, bob@example.test', subject: 'both' });
  await send(server, { to: 'carl@example.test', subject: 'later' });
  assert.deepEqual(await subjects(), ['later', 'both']);
  assert.deepEqual(
    index.page(1, 1)[0].copies.map((copy) => copy.mailbox),
    ['ann@example.test', 'bob@example.test'],
  );
  await server.store.remove({ mailbox: 'ann@example.test', folder: 'INBOX' }, [1]);
  assert.deepEqual(await subjects(), ['later', 'both'], 'one copy left');
  await server.store.remove({ mailbox: 'bob@example.test', folder: 'INBOX' }, [1]);
  assert.deepEqual(await subjects(), ['later']);
  assert.deepEqual(removed, [[both]]);
});

test('removing everything at once (many items a folder) leaves no item and tells each one', async (t) => {
  const { server, index } = await withIndex(t);
  const ids = new Set<string>();
  for (let i = 0; i < 40; i++) ids.add(await send(server, { to: `box${i % 2}@example.test`, subject: `#${i}` }));
  const removed: string[] = [];
  index.on('removed', (gone) => removed.push(...gone));
  assert.equal(index.size, 40);
  await server.deleteAll();
  assert.equal(index.size, 0);
  assert.deepEqual(new Set(removed), ids);
});

test('a folder deleted takes its items with it', async (t) => {
  const { server, index } = await withIndex(t);
  const mailbox = 'ann@example.test';
  await server.store.createFolder({ mailbox, folder: 'Archive' });
  await send(server, { to: mailbox, subject: 'kept' });
  await server.store.append({ mailbox, folder: 'Archive' }, Buffer.from('Subject: archived\r\n\r\nx\r\n'));
  assert.equal(index.size, 2);
  await server.store.deleteFolder({ mailbox, folder: 'Archive' });
  assert.equal(index.size, 1);
});

test("a copy older than its item's first, found later (another process wrote it), moves the item back", async (t) => {
  const { server, index, subjects } = await withIndex(t);
  await send(server, { to: 'ann@example.test', subject: 'older' });
  const id = await send(server, { to: 'bob@example.test', subject: 'newer, but for its copy' });
  assert.deepEqual(await subjects(), ['newer, but for its copy', 'older']);
  // A copy of the same transaction in carl's folder, stored (so its trace says) an hour ago.
  const receivedAt = new Date(Date.now() - 3_600_000);
  const trace = {
    heloName: 'x',
    clientAddress: '127.0.0.1',
    serverName: 'elsewhere',
    protocol: 'ESMTP',
    id,
    receivedAt,
  };
  const folder = folderOf(server, 'carl@example.test');
  await mkdir(folder, { recursive: true });
  await writeFile(
    path.join(folder, '1'),
    Buffer.concat([
      traceHeader(trace, 'app@example.test', 'carl@example.test'),
      Buffer.from('Subject: newer, but for its copy\r\n\r\nx\r\n'),
    ]),
  );
  // Dated as written long ago: the store reads a file written a moment ago only once it is still.
  await utimes(path.join(folder, '1'), receivedAt, receivedAt);
  await server.store.refresh();
  assert.deepEqual(await subjects(), ['older', 'newer, but for its copy']);
  assert.deepEqual(
    index.newest(1)?.copies.map((copy) => copy.mailbox),
    ['carl@example.test', 'bob@example.test'],
  );
});

test('mail stored before the store opened is taken in once the first scan is done, without announcing it', async (t) => {
  const mailDir = await tempDir();
  const first = await startServer({ mailDir });
  await send(first, { to: 'ann@example.test, bob@example.test', subject: 'earlier' });
  await send(first, { to: 'carl@example.test', subject: 'earlier too' });
  await first.close();
  const store = await MailStore.open(mailDir, createLogger('error'));
  t.after(() => store.close());
  // Made at once: the scan runs on its threads and cannot have answered yet.
  const index = new ItemIndex(store);
  t.after(() => index.close());
  const announced: string[] = [];
  index.on('added', (item) => announced.push(item.id));
  assert.equal(index.size, 0, 'nothing indexed yet');
  await store.indexed;
  assert.equal(index.size, 2);
  assert.deepEqual(announced, []);
});

test('the counts kept as items change are those counted afresh: unread, and items per tag', async (t) => {
  const { server, index } = await withIndex(t);
  const { store } = server;
  const inbox = (mailbox: string) => ({ mailbox, folder: 'INBOX' });
  const fresh = () => {
    const again = new ItemIndex(store);
    const { total, unread, tags } = again.counts();
    again.close();
    return { total, unread, tags: new Map(tags) };
  };
  const kept = () => ({ ...index.counts(), tags: new Map(index.counts().tags) });
  await send(server, { to: 'ann@example.test, bob@example.test', subject: 'a' });
  await send(server, { to: 'ann@example.test', subject: 'b' });
  await store.setFlags(inbox('ann@example.test'), [1, 2], 'add', ['\\Seen', 'Work']);
  assert.deepEqual(kept(), { total: 2, unread: 1, tags: new Map([['Work', 2]]) }, 'a is unread until bob reads it');
  await store.setFlags(inbox('bob@example.test'), [1], 'add', ['\\Seen', 'Home']);
  assert.deepEqual(kept(), fresh());
  await store.remove(inbox('ann@example.test'), [1]);
  assert.deepEqual(kept(), {
    total: 2,
    unread: 0,
    tags: new Map([
      ['Home', 1],
      ['Work', 1],
    ]),
  });
  assert.deepEqual(kept(), fresh());
  await store.setFlags(inbox('bob@example.test'), [1], 'remove', ['\\Seen']);
  await store.remove(inbox('ann@example.test'), [2]);
  assert.deepEqual(kept(), { total: 1, unread: 1, tags: new Map([['Home', 1]]) });
  assert.deepEqual(kept(), fresh());
});

test('items are kept from the first question on: nothing is done per copy before it, and all stored before it is there', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const listening = server.store.listenerCount('change');
  const index = new ItemIndex(server.store);
  t.after(() => index.close());
  const announced: string[] = [];
  index.on('added', (item) => announced.push(item.id));
  const before = await send(server, { to: 'ann@example.test, bob@example.test', subject: 'before' });
  assert.equal(server.store.listenerCount('change'), listening, 'the store is not watched yet');
  assert.deepEqual(announced, []);
  assert.equal(index.size, 1);
  assert.equal(server.store.listenerCount('change'), listening + 1, 'watched from the first question on');
  const after = await send(server, { to: 'carl@example.test', subject: 'after' });
  assert.deepEqual(announced, [after]);
  assert.deepEqual(
    index.page(0, 0).map((item) => item.id),
    [after, before],
  );
});
