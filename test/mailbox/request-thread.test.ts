/**
 * A request thread's `returned`: what a request moved to the thread goes back to the requesting
 * thread to be freed there, and never into the reply (see Answer.returned in request-thread.ts:
 * passed on with the reply, a delivery's body was kept into the old generation).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestThread } from '../../src/mailbox/request-thread.js';
import type { Probe, ProbeReply } from './returning-worker.js';

test('bytes a request moved to the thread are moved back, and the reply is the reply alone', async () => {
  const thread = new RequestThread<Probe, ProbeReply>({
    besideUrl: import.meta.url,
    module: 'returning-worker',
    label: 'returning',
  });
  try {
    const bytes = new Uint8Array(100 * 1024).fill(7);
    const reply = await thread.request({ bytes }, [bytes.buffer]);
    assert.equal(bytes.byteLength, 0, 'moved to the thread, not copied');
    assert.deepEqual(reply, { length: 100 * 1024 });
    assert.deepEqual(await thread.request({ previousLeft: true }), { previousLength: 0 }, 'gone from the thread');
  } finally {
    await thread.close();
  }
});
