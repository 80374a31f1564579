import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MailClientClosedError, MailTimeoutError } from '../../src/index.js';
import type { MessageMeta, ParsedMessage } from '../../src/testing/message.js';
import type { MessageSource } from '../../src/testing/source.js';
import { waitForMessages } from '../../src/testing/waiter.js';
import { isPending, send, testEachClient } from './support.js';

testEachClient('waitForMessage resolves with a message that arrives after the call (late arrival)', async (mail) => {
  const waiting = mail.waitForMessage({ to: 'ann@example.test', subject: /welcome/i });
  assert.equal(await isPending(waiting), true, 'nothing has arrived yet');
  await send(mail, { to: 'Ann <ann@example.test>', subject: 'Welcome, Ann', text: 'Hello Ann' });
  const msg = await waiting;
  assert.equal(msg.subject, 'Welcome, Ann');
  assert.deepEqual(msg.from, { name: 'App', address: 'app@example.test' });
  assert.deepEqual(msg.to, [{ name: 'Ann', address: 'ann@example.test' }]);
  assert.equal(msg.text, 'Hello Ann');
  assert.equal(msg.mailbox, 'ann@example.test');
  assert.equal(msg.number, 1);
});

testEachClient('waitForMessage resolves with a message stored before the call (early arrival)', async (mail) => {
  await send(mail, { to: 'ann@example.test', subject: 'Welcome' });
  // Nothing else is sent, so resolving at all proves the stored message was found.
  const msg = await mail.waitForMessage({ to: 'ann@example.test' }, { timeout: 10_000 });
  assert.equal(msg.subject, 'Welcome');
  assert.equal(msg.number, 1);
});

testEachClient('the first match wins: stored messages oldest first, before later arrivals', async (mail) => {
  await send(mail, { to: 'ann@example.test', subject: 'first' });
  await send(mail, { to: 'ann@example.test', subject: 'second' });
  assert.equal((await mail.waitForMessage({ to: 'ann@example.test' })).subject, 'first');
  const later = mail.waitForMessage({ subject: /^(second|third)$/ });
  await send(mail, { to: 'ann@example.test', subject: 'third' });
  assert.equal((await later).subject, 'second');
});

testEachClient('an empty filter (or none) matches any message', async (mail) => {
  const waiting = mail.waitForMessage();
  await send(mail, { to: 'ann@example.test', subject: 'anything' });
  assert.equal((await waiting).subject, 'anything');
  assert.equal((await mail.waitForMessage({})).subject, 'anything');
});

testEachClient('on timeout the error lists the messages that did arrive (mailbox, from, subject)', async (mail) => {
  await send(mail, { from: 'Shop <shop@example.test>', to: 'bob@example.test', subject: 'Your order' });
  const waiting = mail.waitForMessage({ to: 'ann@example.test', subject: /welcome/i }, { timeout: 2000 });
  await send(mail, { to: 'carl@example.test', subject: 'Password reset' });
  const error = await waiting.then(
    () => assert.fail('should time out'),
    (error: unknown) => error,
  );
  assert.ok(error instanceof MailTimeoutError);
  assert.equal(error.name, 'MailTimeoutError');
  assert.match(
    error.message,
    /^Timed out after 2000 ms waiting for mail: no message matched \{ to: 'ann@example\.test', subject: \/welcome\/i \}\./,
  );
  assert.match(error.message, /2 messages arrived \(mailbox, from, subject\):/);
  assert.match(error.message, /bob@example\.test #1 {2}from shop@example\.test {2}subject "Your order"/);
  assert.match(error.message, /carl@example\.test #1 {2}from app@example\.test {2}subject "Password reset"/);
  assert.deepEqual(
    error.arrived.map(({ mailbox, from, subject, matched }) => ({ mailbox, from, subject, matched })),
    [
      { mailbox: 'bob@example.test', from: 'shop@example.test', subject: 'Your order', matched: false },
      { mailbox: 'carl@example.test', from: 'app@example.test', subject: 'Password reset', matched: false },
    ],
  );
  assert.deepEqual(error.filter, { to: 'ann@example.test', subject: /welcome/i });
});

testEachClient('a timeout with no mail at all says so', async (mail) => {
  await assert.rejects(mail.waitForMessage({ subject: 'x' }, { timeout: 50 }), (error: Error) => {
    assert.ok(error instanceof MailTimeoutError);
    assert.equal(
      error.message,
      "Timed out after 50 ms waiting for mail: no message matched { subject: 'x' }.\nNo message arrived.",
    );
    return true;
  });
});

testEachClient(
  'waitForMessages resolves with count distinct matches, oldest first, and waits for the rest',
  async (mail) => {
    await send(mail, { to: 'ann@example.test', subject: 'reminder 1' });
    await send(mail, { to: 'ann@example.test', subject: 'other' });
    const waiting = mail.waitForMessages({ subject: /^reminder/ }, 3);
    await send(mail, { to: 'ann@example.test', subject: 'reminder 2' });
    assert.equal(await isPending(waiting), true, 'two of three so far');
    await send(mail, { to: 'ann@example.test', subject: 'reminder 3' });
    await send(mail, { to: 'ann@example.test', subject: 'reminder 4' });
    assert.deepEqual(
      (await waiting).map((m) => m.subject),
      ['reminder 1', 'reminder 2', 'reminder 3'],
    );
    assert.equal((await mail.waitForMessages({ subject: /^reminder/ }, 4)).length, 4);
  },
);

testEachClient('waitForMessages timing out tells how many matched and marks them', async (mail) => {
  await send(mail, { to: 'ann@example.test', subject: 'reminder 1' });
  await send(mail, { to: 'ann@example.test', subject: 'newsletter' });
  // Long enough for the client over HTTP to have judged both messages on a loaded machine: the
  // report names each one.
  await assert.rejects(mail.waitForMessages({ subject: /^reminder/ }, 2, { timeout: 1000 }), (error: Error) => {
    assert.ok(error instanceof MailTimeoutError);
    assert.equal(error.expected, 2);
    assert.match(error.message, /1 of 2 messages matched \{ subject: \/\^reminder\/ \}/);
    assert.match(error.message, /\* ann@example\.test #1 {2}from app@example\.test {2}subject "reminder 1"/);
    assert.match(error.message, /- ann@example\.test #2 {2}from app@example\.test {2}subject "newsletter"/);
    return true;
  });
});

testEachClient('a bad filter or count is refused at once', async (mail) => {
  await assert.rejects(mail.waitForMessage({ subjet: 'x' } as never), {
    name: 'TypeError',
    message: /Unknown message filter key "subjet"/,
  });
  await assert.rejects(mail.waitForMessage({ to: 42 } as never), {
    name: 'TypeError',
    message: /"to" must be a string, a RegExp or a function/,
  });
  await assert.rejects(mail.waitForMessage({ since: 'yesterday' } as never), {
    name: 'TypeError',
    message: /"since" must be a valid Date/,
  });
  await assert.rejects(mail.waitForMessages({}, 0), { name: 'RangeError' });
  await assert.rejects(mail.waitForMessage({}, { timeout: -1 }), { name: 'RangeError' });
  await assert.rejects(mail.messages({ foo: 1 } as never), { name: 'TypeError' });
});

testEachClient('a predicate that throws rejects the wait with its error', async (mail) => {
  await send(mail, { to: 'ann@example.test', subject: 'x' });
  await assert.rejects(
    mail.waitForMessage({
      subject: () => {
        throw new Error('bug in my predicate');
      },
    }),
    /bug in my predicate/,
  );
});

testEachClient('an aborted signal, and closing the server, reject a pending wait', async (mail) => {
  const controller = new AbortController();
  const aborted = mail.waitForMessage({ to: 'nobody@example.test' }, { signal: controller.signal });
  controller.abort(new Error('test over'));
  await assert.rejects(aborted, /test over/);
  await assert.rejects(mail.waitForMessage({}, { signal: AbortSignal.abort(new Error('already')) }), /already/);

  const pending = mail.waitForMessage({ to: 'nobody@example.test' }, { timeout: Infinity });
  const closing = mail.close();
  await assert.rejects(pending, (error: Error) => error instanceof MailClientClosedError);
  await closing;
  await assert.rejects(mail.waitForMessage(), MailClientClosedError);
});

test('a message stored while the stored ones are being listed is seen exactly once', async () => {
  // A source whose list() is held open: an arrival during it is also in its result.
  const message = (number: number): ParsedMessage =>
    ({
      mailbox: 'ann@example.test',
      number,
      envelope: { from: '', to: ['ann@example.test'] },
      receivedAt: new Date(number),
      size: 1,
      subject: `#${number}`,
      to: [],
      cc: [],
    }) as unknown as ParsedMessage;
  let listener: ((meta: MessageMeta) => void) | undefined;
  let finishList: (metas: MessageMeta[]) => void = () => {};
  const events: string[] = [];
  const source: MessageSource = {
    subscribe(callback) {
      events.push('subscribe');
      listener = callback;
      return () => (listener = undefined);
    },
    list() {
      events.push('list');
      return new Promise((resolve) => (finishList = resolve));
    },
    load: (meta) => Promise.resolve(message(meta.number)),
    deleteAll: async () => {},
  };
  const waiting = waitForMessages(source, { subject: /^#/ }, 3, { timeout: 500 });
  assert.deepEqual(events, ['subscribe', 'list'], 'subscribed before listing');
  listener!(message(2));
  finishList([message(1), message(2)]);
  listener!(message(2));
  listener!(message(3));
  assert.deepEqual(
    (await waiting).map((m) => m.subject),
    ['#1', '#2', '#3'],
  );
  assert.equal(listener, undefined, 'unsubscribed once done');
});
