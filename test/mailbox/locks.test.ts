/**
 * Which dot-locks the store breaks and which it waits for. Ours are links to our store's token
 * (`.locks/<pid>-<store id>`), so a lock naming our own pid that this process did not take is
 * a leftover, as after `kill -9` in a container, where every run is pid 1.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { link, lutimes, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { MailStore } from '../../src/mailbox/store.js';
import { run, tempDir, inboxNumbers } from '../helpers.js';
import { deliver, quiet } from './support.js';

/** Not a timing assertion: without the fix some of these block their thread for good, and the test must end. */
const guard = { timeout: 60_000 };
const anHourAgo = () => new Date(Date.now() - 3_600_000);

/** A store with bob's folder made (message 1), and the path of that folder's lock. */
async function storeWithFolder(options: { lockWaitMs?: number } = {}): Promise<{ store: MailStore; lock: string }> {
  const store = await MailStore.open(await tempDir(), quiet, options);
  await deliver(store, ['bob@x.test']);
  return { store, lock: path.join(store.mailDir, 'x.test', 'bob', '.mh_sequences.lock') };
}

test('a lock naming our own pid that no store of ours linked in is broken at once', guard, async () => {
  const { store, lock } = await storeWithFolder();
  try {
    await writeFile(lock, `${process.pid}\n`);
    assert.equal((await deliver(store, ['bob@x.test']))[0].number, 2);
    assert.equal(existsSync(lock), false);
  } finally {
    await store.close();
  }
});

test(
  'a lock naming our own pid but older than this process is broken at once, even while linked elsewhere',
  guard,
  async () => {
    const { store, lock } = await storeWithFolder();
    try {
      // What a killed earlier process with our pid leaves: its token, linked in as the lock.
      const token = path.join(await tempDir(), 'token');
      await writeFile(token, `${process.pid}\n`);
      await utimes(token, anHourAgo(), anHourAgo());
      await link(token, lock);
      assert.equal((await deliver(store, ['bob@x.test']))[0].number, 2);
      assert.equal(existsSync(lock), false);
    } finally {
      await store.close();
    }
  },
);

test(
  'a lock that is our own token linked in is held, not broken: the delivery waits, then fails with TMS_LOCK_TIMEOUT',
  guard,
  async () => {
    const { store, lock } = await storeWithFolder({ lockWaitMs: 300 });
    try {
      const [token] = await readdir(path.join(store.mailDir, '.locks'));
      await link(path.join(store.mailDir, '.locks', token), lock);
      await assert.rejects(deliver(store, ['bob@x.test']), { code: 'TMS_DELIVERY_FAILED', reason: 'TMS_LOCK_TIMEOUT' });
      assert.ok(existsSync(lock));
      assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1]);
    } finally {
      await store.close();
    }
  },
);

test('a lock that is a symbolic link (to a FIFO) is never read through: an old one is broken', guard, async () => {
  const { store, lock } = await storeWithFolder();
  try {
    const fifo = path.join(await tempDir(), 'fifo');
    await run('mkfifo', [fifo]);
    await symlink(fifo, lock);
    await lutimes(lock, anHourAgo(), anHourAgo());
    assert.equal((await deliver(store, ['bob@x.test']))[0].number, 2);
    assert.equal(existsSync(lock), false);
    assert.ok(existsSync(fifo), 'only the link is removed');
  } finally {
    await store.close();
  }
});
