/**
 * Message numbers stay exact: names past Number.MAX_SAFE_INTEGER (2^53 - 1) are not messages,
 * and numbering that would pass it stops with a clear error instead of looping.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseSequences } from '../../src/mailbox/sequences.js';
import { MailStore } from '../../src/mailbox/store.js';
import { CliProcess, tempDir, inboxNumbers } from '../helpers.js';
import { LoadClient, markedMessage } from '../load/load-client.js';
import { deliver, quiet } from './support.js';

/** Not a timing assertion: without the fix numbering loops forever, and the test must end. */
const guard = { timeout: 60_000 };
const beyondSafe = '9007199254740993';

async function folderWith(entries: Record<string, string>): Promise<string> {
  const mailDir = await tempDir();
  const folder = path.join(mailDir, 'x.test', 'bob');
  await mkdir(folder, { recursive: true });
  for (const [name, content] of Object.entries(entries)) await writeFile(path.join(folder, name), content);
  return mailDir;
}

test(
  'a file named past 2^53 - 1 is not a message: deliveries number on from the real ones, again and again',
  guard,
  async () => {
    const mailDir = await folderWith({ [beyondSafe]: 'Subject: huge\n\nx\n' });
    const store = await MailStore.open(mailDir, quiet);
    try {
      assert.equal((await deliver(store, ['bob@x.test']))[0].number, 1);
      assert.equal((await deliver(store, ['bob@x.test']))[0].number, 2);
      assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1, 2]);
      assert.ok(existsSync(path.join(mailDir, 'x.test', 'bob', beyondSafe)), 'left alone');
    } finally {
      await store.close();
    }
  },
);

test(
  'with such a file and a high-water mark past 2^53 - 1, the server still answers 250 and stops on SIGTERM',
  guard,
  async () => {
    const mailDir = await folderWith({ [beyondSafe]: 'Subject: huge\n\nx\n', '.mh_highwater': '9007199254740992\n' });
    const { cli, port } = await CliProcess.listening(mailDir);
    try {
      const client = await LoadClient.connect(port);
      await client.greet();
      assert.match((await client.send('a@b.test', 'bob@x.test', markedMessage('bob', 1))) ?? 'closed', /^250 /);
      assert.match((await client.send('a@b.test', 'ann@x.test', markedMessage('ann', 2))) ?? 'closed', /^250 /);
      await client.quit();
    } finally {
      cli.child.kill('SIGTERM');
    }
    assert.equal(await cli.exited, 0, cli.stderr);
    assert.deepEqual((await readdir(path.join(mailDir, 'x.test', 'bob'))).filter((name) => /^\d+$/.test(name)).sort(), [
      '1',
      beyondSafe,
    ]);
  },
);

test(
  'a folder that has given out 2^53 - 1 refuses the next message with TMS_FOLDER_FULL, storing nothing',
  guard,
  async () => {
    const mailDir = await folderWith({ '.mh_highwater': `${Number.MAX_SAFE_INTEGER}\n` });
    const store = await MailStore.open(mailDir, quiet);
    try {
      await assert.rejects(deliver(store, ['bob@x.test']), {
        code: 'TMS_DELIVERY_FAILED',
        reason: 'TMS_FOLDER_FULL',
        message: /^bob@x\.test: .*bob has used every message number up to 9007199254740991$/,
      });
      assert.deepEqual(inboxNumbers(store, 'bob@x.test'), []);
    } finally {
      await store.close();
    }
  },
);

test('sequences: a range past 2^53 - 1 is dropped, not rounded', () => {
  assert.deepEqual(parseSequences(`unseen: 1-${beyondSafe} 3\nflagged: 5-2 7\n`).get('unseen'), [[3, 3]]);
  assert.deepEqual(parseSequences('flagged: 5-2 7\n').get('flagged'), [[7, 7]]);
});
