/**
 * A refresh while the store watches: notifications vouch for the folders that did not change, so
 * a refresh looks only at the others, and still misses nothing another process did before it.
 * Python runs synchronously here, so no turn of the event loop reads its notifications before the
 * refresh starts: the refresh itself must read them first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { FolderRef } from '../../src/mailbox/reader.js';
import { MailStore } from '../../src/mailbox/store.js';
import { tempDir } from '../helpers.js';
import { deliver, quiet } from './support.js';

const ann: FolderRef = { mailbox: 'ann@x.test', folder: 'INBOX' };
const bob: FolderRef = { mailbox: 'bob@x.test', folder: 'INBOX' };

/** Runs Python to its end before returning, blocking the event loop meanwhile. */
function pythonNow(script: string, ...args: string[]): void {
  execFileSync('/usr/bin/python3', ['-c', script, ...args]);
}

/**
 * Python's mailbox.MH.add into `dir` (after `before`, Python code), the file dated an hour back
 * (as `cp -p` would): a file written this instant may still be being written, and is indexed a
 * moment later, not by the refresh.
 */
const addWithPython = (dir: string, subject: string, before = '') =>
  pythonNow(
    `import mailbox,os,shutil,sys,time; ${before}m=mailbox.MH(sys.argv[1]); k=m.add(b"Subject: ${subject}\\n\\nx\\n"); ` +
      'os.utime(os.path.join(sys.argv[1], str(k)), (time.time() - 3600,) * 2)',
    dir,
  );

/** A store with mail for ann and bob, watching everything, its folders stamped since their last change; closed after the test. */
async function watchedStore(t: TestContext) {
  const store = await MailStore.open(await tempDir(), quiet);
  // Closing the store ends its watches too.
  t.after(() => store.close());
  await store.indexed;
  await deliver(store, [ann.mailbox, bob.mailbox]);
  store.watch('all', () => {});
  // The first reads the deliveries' notifications and compares; the second finds nothing new.
  await store.refresh();
  await store.refresh();
  const dir = (ref: FolderRef) => path.join(store.mailDir, 'x.test', ref.mailbox.split('@')[0]);
  return { store, dir };
}

const subjects = async (store: MailStore, ref: FolderRef) =>
  Promise.all(store.messages(ref).map(async (message) => (await store.summary(message))?.subject));

test('a refresh right after mailbox.MH.add, with every folder watched, has the new message', async (t) => {
  const { store, dir } = await watchedStore(t);
  addWithPython(dir(ann), 'from python');
  await store.refresh();
  assert.deepEqual(await subjects(store, ann), ['s', 'from python']);
  assert.deepEqual(await subjects(store, bob), ['s']);
});

test('a refresh of one mailbox right after mailbox.MH.add to it has the new message', async (t) => {
  const { store, dir } = await watchedStore(t);
  addWithPython(dir(bob), 'for bob');
  await store.refresh({ mailbox: bob.mailbox });
  assert.deepEqual(await subjects(store, bob), ['s', 'for bob']);
});

test('a mailbox another tool makes while the store watches is in the next refresh', async (t) => {
  const { store, dir } = await watchedStore(t);
  const carl = { mailbox: 'carl@x.test', folder: 'INBOX' };
  addWithPython(dir(carl), 'new mailbox');
  await store.refresh();
  assert.deepEqual(await subjects(store, carl), ['new mailbox']);
});

test('a watched folder removed and made again is watched anew: what is added to it later is in the next refresh', async (t) => {
  const { store, dir } = await watchedStore(t);
  // The old watch follows the removed directory and hears nothing of the new one at its path.
  addWithPython(dir(ann), 'again 1', 'shutil.rmtree(sys.argv[1]); ');
  await store.refresh();
  assert.deepEqual(await subjects(store, ann), ['again 1']);
  addWithPython(dir(ann), 'again 2');
  await store.refresh();
  assert.deepEqual(await subjects(store, ann), ['again 1', 'again 2']);
});

test('a file a refresh found still being written is read by the next refresh once it is done, though its folder did not change', async (t) => {
  const { store, dir } = await watchedStore(t);
  pythonNow('import mailbox,sys; mailbox.MH(sys.argv[1]).add(b"Subject: late\\n\\nx\\n")', dir(ann));
  // The clock stands at the instant it was written: to the store, a writer may still be at work.
  const { mtimeMs } = await stat(path.join(dir(ann), '2'));
  const clock = t.mock.method(Date, 'now', () => mtimeMs);
  await store.refresh();
  assert.deepEqual(await subjects(store, ann), ['s'], 'not read while it may still be being written');
  // A second on, the file is done; its directory is as the first refresh saw it.
  clock.mock.mockImplementation(() => mtimeMs + 1000);
  await store.refresh();
  assert.deepEqual(await subjects(store, ann), ['s', 'late']);
});
