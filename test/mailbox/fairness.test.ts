/**
 * The delivery thread shares its work between transactions: a message to many recipients is
 * written a slice at a time, round-robin with the others, so a one-recipient message sent
 * right after it does not wait for all of its copies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MailStore } from '../../src/mailbox/store.js';
import { tempDir, inboxNumbers } from '../helpers.js';
import { deliver, quiet } from './support.js';

test('a small message handed over right after one to 100 recipients is stored while the big one is still being written', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    const many = Array.from({ length: 100 }, (_, i) => `r${i}@big.test`);
    // 100 copies of 256 KiB: some 25 slices of work; both go to the delivery thread in the same turn.
    const big = deliver(store, many, `Subject: big\r\n\r\n${'x'.repeat(256 * 1024)}\r\n`);
    let bigDone = false;
    void big.then(() => (bigDone = true));
    await deliver(store, ['one@small.test']);
    // Done before the big one's last copy was even linked (its copies are all written before any is).
    assert.deepEqual(inboxNumbers(store, many.at(-1)!), []);
    assert.equal(bigDone, false);
    assert.equal((await big).length, 100);
    assert.deepEqual(inboxNumbers(store, many.at(-1)!), [1]);
  } finally {
    await store.close();
  }
});
