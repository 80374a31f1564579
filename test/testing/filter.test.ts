import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { matches, type MessageFilter } from '../../src/index.js';
import { describeFilter } from '../../src/testing/filter.js';
import type { ParsedMessage } from '../../src/testing/message.js';
import { send, testEachClient, type ToolkitServer } from './support.js';

/**
 * Two messages, four stored copies:
 * "Order 1" from Shop to Ann, cc Carl, bcc Dave (copies in ann, carl, dave);
 * "Welcome" from App to Bob, text only (copy in bob), sent after `between`.
 */
async function sendTwo(mail: ToolkitServer): Promise<Date> {
  await send(mail, {
    from: 'Shop <shop@example.test>',
    to: 'Ann Smith <Ann@Example.TEST>',
    cc: 'Carl <carl@example.test>',
    bcc: 'dave@example.test',
    subject: 'Order 1',
    text: 'Thanks for your order',
    html: '<p>Thanks for your order</p>',
  });
  await setTimeout(5);
  const between = new Date();
  await setTimeout(5);
  await send(mail, { to: 'bob@example.test', subject: 'Welcome', text: 'Hello Bob' });
  return between;
}

/** The stored copies a filter selects, as `mailbox: subject`. */
async function selected(mail: ToolkitServer, filter: MessageFilter): Promise<string[]> {
  return (await mail.messages(filter)).map((m) => `${m.mailbox}: ${m.subject}`);
}

const order = ['Ann@example.test: Order 1', 'carl@example.test: Order 1', 'dave@example.test: Order 1'];
const welcome = ['bob@example.test: Welcome'];

testEachClient('every filter key takes a string, a RegExp or a predicate', async (mail) => {
  const between = await sendTwo(mail);
  assert.deepEqual(await selected(mail, {}), [...order, ...welcome]);

  // to: header To addresses; a string is compared case-insensitively, a RegExp also sees "Name <address>".
  assert.deepEqual(await selected(mail, { to: 'ann@example.test' }), order);
  assert.deepEqual(await selected(mail, { to: ' ANN@EXAMPLE.TEST ' }), order);
  assert.deepEqual(await selected(mail, { to: 'ann' }), []);
  assert.deepEqual(await selected(mail, { to: /^Ann Smith </ }), order);
  assert.deepEqual(await selected(mail, { to: /^bob@/ }), welcome);
  assert.deepEqual(await selected(mail, { to: (to) => to.some((a) => a.name === 'Ann Smith') }), order);
  // Cc and Bcc recipients are not To addresses.
  assert.deepEqual(await selected(mail, { to: 'carl@example.test' }), []);
  assert.deepEqual(await selected(mail, { to: 'dave@example.test' }), []);

  // cc: header Cc addresses.
  assert.deepEqual(await selected(mail, { cc: 'CARL@example.test' }), order);
  assert.deepEqual(await selected(mail, { cc: /^Carl <carl@/ }), order);
  assert.deepEqual(await selected(mail, { cc: (cc) => cc.length === 0 }), welcome);

  // bcc: any envelope recipient, blind or not.
  assert.deepEqual(await selected(mail, { bcc: 'DAVE@example.test' }), order);
  assert.deepEqual(await selected(mail, { bcc: 'carl@example.test' }), order);
  assert.deepEqual(await selected(mail, { bcc: /^bob@/ }), welcome);
  assert.deepEqual(await selected(mail, { bcc: (recipients) => recipients.length === 3 }), order);

  // from: the From header address.
  assert.deepEqual(await selected(mail, { from: 'Shop@example.test' }), order);
  assert.deepEqual(await selected(mail, { from: /^App </ }), welcome);
  assert.deepEqual(await selected(mail, { from: (from) => from?.name === 'Shop' }), order);

  // subject: a string is exact and case-sensitive.
  assert.deepEqual(await selected(mail, { subject: 'Welcome' }), welcome);
  assert.deepEqual(await selected(mail, { subject: 'welcome' }), []);
  assert.deepEqual(await selected(mail, { subject: 'Welc' }), []);
  assert.deepEqual(await selected(mail, { subject: /^order \d$/i }), order);
  assert.deepEqual(await selected(mail, { subject: (subject) => subject.length === 7 }), [...order, ...welcome]);

  // text and html: exact strings, RegExps for parts; a missing part never matches a string or RegExp.
  assert.deepEqual(await selected(mail, { text: 'Hello Bob' }), welcome);
  assert.deepEqual(await selected(mail, { text: 'Hello' }), []);
  assert.deepEqual(await selected(mail, { text: /your order/ }), order);
  assert.deepEqual(await selected(mail, { text: (text) => text?.startsWith('Hello') === true }), welcome);
  assert.deepEqual(await selected(mail, { html: '<p>Thanks for your order</p>' }), order);
  assert.deepEqual(await selected(mail, { html: /.*/ }), order);
  assert.deepEqual(await selected(mail, { html: (html) => html === undefined }), welcome);

  // mailbox: where the copy is stored; compared case-insensitively.
  assert.deepEqual(await selected(mail, { mailbox: 'DAVE@example.test' }), ['dave@example.test: Order 1']);
  assert.deepEqual(await selected(mail, { mailbox: /^(ann|bob)@/i }), ['Ann@example.test: Order 1', ...welcome]);
  assert.deepEqual(await selected(mail, { mailbox: (mailbox) => mailbox.startsWith('c') }), [
    'carl@example.test: Order 1',
  ]);

  // since: received at or after the moment.
  assert.deepEqual(await selected(mail, { since: between }), welcome);
  assert.deepEqual(await selected(mail, { since: new Date(0) }), [...order, ...welcome]);
  assert.deepEqual(await selected(mail, { since: new Date(Date.now() + 60_000) }), []);

  // Every key given must match.
  assert.deepEqual(await selected(mail, { to: 'ann@example.test', subject: /order/i, mailbox: 'carl@example.test' }), [
    'carl@example.test: Order 1',
  ]);
  assert.deepEqual(await selected(mail, { to: 'ann@example.test', subject: 'Welcome' }), []);
  assert.deepEqual(
    await selected(mail, { subject: undefined }),
    [...order, ...welcome],
    'an undefined key is no constraint',
  );
});

testEachClient('waitForMessage applies the same filters to messages arriving later', async (mail) => {
  const copy = mail.waitForMessage({ bcc: 'dave@example.test', mailbox: 'dave@example.test' });
  const welcomeMessage = mail.waitForMessage({ from: /^App/, since: new Date(), text: /bob/i });
  await sendTwo(mail);
  const [dave, welcome] = await Promise.all([copy, welcomeMessage]);
  assert.equal(dave.mailbox, 'dave@example.test');
  assert.deepEqual(dave.envelope, {
    from: 'shop@example.test',
    to: ['Ann@example.test', 'carl@example.test', 'dave@example.test'],
  });
  assert.equal(welcome.subject, 'Welcome');
});

function fake(fields: Partial<ParsedMessage>): ParsedMessage {
  return {
    mailbox: 'ann@example.test',
    folder: 'INBOX',
    number: 1,
    flags: { seen: false, answered: false, flagged: false, deleted: false, draft: false, keywords: [] },
    envelope: { from: 'app@example.test', to: ['ann@example.test'] },
    receivedAt: new Date(1000),
    size: 0,
    raw: Buffer.alloc(0),
    headers: {},
    subject: '',
    from: undefined,
    to: [],
    cc: [],
    replyTo: [],
    messageId: undefined,
    date: undefined,
    text: undefined,
    html: undefined,
    attachments: [],
    links: [],
    ...fields,
  };
}

test('matches is a pure function of a message and a filter', () => {
  const message = fake({ subject: 'Hi there', to: [{ name: 'Ann', address: 'ann@example.test' }], text: 'abc' });
  assert.equal(matches(message, {}), true);
  assert.equal(matches(message, { subject: 'Hi there', to: 'ANN@example.test' }), true);
  assert.equal(matches(message, { subject: 'Hi there', to: 'bob@example.test' }), false);
  // A /g RegExp keeps no state between messages.
  const global = /hi/gi;
  assert.equal(matches(message, { subject: global }), true);
  assert.equal(matches(message, { subject: global }), true);
  // Predicates get the field as the message exposes it.
  const seen: unknown[] = [];
  matches(message, {
    to: (v) => (seen.push(v), true),
    cc: (v) => (seen.push(v), true),
    from: (v) => (seen.push(v), true),
    bcc: (v) => (seen.push(v), true),
    html: (v) => (seen.push(v), true),
    mailbox: (v) => (seen.push(v), true),
  });
  assert.deepEqual(seen, ['ann@example.test', ['ann@example.test'], message.to, [], undefined, undefined]);
  // A predicate must return true, not merely something truthy.
  assert.equal(matches(message, { subject: (() => 'yes') as never }), false);
  assert.equal(matches(message, { since: new Date(1000) }), true);
  assert.equal(matches(message, { since: new Date(1001) }), false);
  assert.equal(matches(fake({ from: undefined }), { from: /.*/ }), false);
});

test('describeFilter renders a filter for error messages', () => {
  function isAnn() {
    return true;
  }
  assert.equal(describeFilter({}), '{}');
  assert.equal(
    describeFilter({
      to: 'ann@example.test',
      subject: /welcome/i,
      text: isAnn,
      html: () => true,
      since: new Date(0),
      cc: undefined,
    }),
    "{ to: 'ann@example.test', subject: /welcome/i, text: [Function isAnn], html: [Function html], since: 1970-01-01T00:00:00.000Z }",
  );
});
