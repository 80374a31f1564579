/**
 * A message is stored for all its recipients or for none, so the reply (250 or 451) always
 * matches what is on disk and a client's retry never stores a copy twice. And whatever fails
 * while cleaning up after a failed copy is logged, never fatal to the other deliveries.
 */
import assert from 'node:assert/strict';
import { readFile, mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import type { IndexedMessage } from '../../src/mailbox/reader.js';
import { MailStore } from '../../src/mailbox/store.js';
import { tempDir, inboxNumbers } from '../helpers.js';
import { deliver, PythonLock, WatchedLog, whenDir } from './support.js';

/** Not a timing assertion: a test that fails must still end. */
const guard = { timeout: 60_000 };

test(
  'a copy that cannot be stored (its folder locked past the wait) takes back the one that was: 451, nothing announced, and the retry stores each once',
  guard,
  async () => {
    const store = await MailStore.open(await tempDir(), new WatchedLog('warning').log, { lockWaitMs: 300 });
    const announced: IndexedMessage[] = [];
    store.on('change', (change) => {
      if (change.kind === 'added') announced.push(change.message);
    });
    const python = await PythonLock.hold([path.join(store.mailDir, 'x.test', 'ann')]);
    try {
      await assert.rejects(deliver(store, ['bob@x.test', 'ann@x.test']), {
        code: 'TMS_DELIVERY_FAILED',
        reason: 'TMS_LOCK_TIMEOUT',
        message:
          /^ann@x\.test: .*ann\/\.mh_sequences\.lock held by another process .*; the 1 copy stored for other recipients removed again$/,
      });
      assert.deepEqual(announced, []);
      assert.deepEqual(inboxNumbers(store, 'bob@x.test'), []);
      const bob = path.join(store.mailDir, 'x.test', 'bob');
      assert.equal(await readFile(path.join(bob, '.mh_sequences'), 'utf8'), '');
      assert.deepEqual(await whenDir(path.join(store.mailDir, '.tmp'), (e) => e.length === 0, 'empty'), []);

      await python.unlock();
      const retried = await deliver(store, ['bob@x.test', 'ann@x.test']);
      // Bob's first number was given out once and stays burned.
      assert.deepEqual(
        retried.map((m) => `${m.mailbox}/${m.number}`),
        ['bob@x.test/2', 'ann@x.test/1'],
      );
      assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [2]);
      assert.deepEqual(inboxNumbers(store, 'ann@x.test'), [1]);
      assert.deepEqual(announced, retried);
    } finally {
      await python.close();
      await store.close();
    }
  },
);

test(
  'a temp file that cannot be removed after a failed copy is logged, and the deliveries beside it still succeed',
  guard,
  async () => {
    const watched = new WatchedLog('warning');
    const store = await MailStore.open(await tempDir(), watched.log);
    const tmp = path.join(store.mailDir, '.tmp');
    const folders = ['bob', 'ann'].map((local) => path.join(store.mailDir, 'x.test', local));
    const python = await PythonLock.hold(folders);
    try {
      // Both copies are written, then wait for their folders' locks.
      const toBob = deliver(store, ['bob@x.test']);
      const toAnn = deliver(store, ['ann@x.test']);
      const temps = await whenDir(tmp, (entries) => entries.length === 2, 'holding both copies');
      let bobsTemp: string | undefined;
      for (const name of temps) {
        if ((await readFile(path.join(tmp, name), 'latin1')).includes('Delivered-To: bob@x.test')) bobsTemp = name;
      }
      assert.ok(bobsTemp);
      // A directory in its place: linking it fails, and so does removing it as a file afterwards.
      await rm(path.join(tmp, bobsTemp));
      await mkdir(path.join(tmp, bobsTemp));
      // Watched from now: it may fail while Python is still saying it unlocked.
      const bobFailed = assert.rejects(toBob, { code: 'TMS_DELIVERY_FAILED' });
      await python.unlock(0);
      await bobFailed;
      await python.unlock(1);
      const [stored] = await toAnn;
      assert.equal(stored.number, 1);
      assert.match(await watched.line(/could not remove/), new RegExp(`WARNING could not remove ${tmp}/${bobsTemp}: `));
    } finally {
      await python.close();
      await store.close();
    }
  },
);
