import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAddress, testAddressDomain } from '../../src/index.js';
import { send, sendWithPython, testEachClient } from './support.js';

testEachClient(
  'one message to two recipients is two stored copies: messages() returns each, waitForMessage the first',
  async (mail) => {
    await send(mail, { to: 'ann@example.test, bob@example.test', subject: 'Both' });
    const copies = await mail.messages({ subject: 'Both' });
    assert.deepEqual(
      copies.map((m) => [m.mailbox, m.number]),
      [
        ['ann@example.test', 1],
        ['bob@example.test', 1],
      ],
    );
    assert.equal((await mail.waitForMessage({ subject: 'Both' })).mailbox, 'ann@example.test');
    assert.equal((await mail.waitForMessages({ subject: 'Both' }, 2)).length, 2);
  },
);

testEachClient('messages() lists every stored copy, oldest first, optionally filtered', async (mail) => {
  assert.deepEqual(await mail.messages(), []);
  await send(mail, { to: 'bob@example.test', subject: 'one' });
  await send(mail, { to: 'ann@example.test', subject: 'two' });
  await send(mail, { to: 'bob@example.test', subject: 'three' });
  assert.deepEqual(
    (await mail.messages()).map((m) => m.subject),
    ['one', 'two', 'three'],
  );
  assert.deepEqual(
    (await mail.messages({ to: 'bob@example.test' })).map((m) => m.subject),
    ['one', 'three'],
  );
});

testEachClient('mailbox(address) returns the parsed messages of that mailbox', async (mail) => {
  await send(mail, { to: 'Ann@Example.test', subject: 'a1' });
  await send(mail, { to: 'bob@example.test', bcc: 'ann@example.test', subject: 'b1' });
  await send(mail, { to: 'ann@example.test', subject: 'a2' });
  // The first message went to the folder "Ann@example.test" (the store keeps a local part's case);
  // mailbox() compares addresses case-insensitively, like every address filter, so it is included.
  assert.deepEqual(
    (await mail.mailbox('ANN@example.test')).map((m) => [m.mailbox, m.number, m.subject]),
    [
      ['Ann@example.test', 1, 'a1'],
      ['ann@example.test', 1, 'b1'],
      ['ann@example.test', 2, 'a2'],
    ],
  );
  assert.deepEqual(
    (await mail.mailbox('bob@example.test')).map((m) => m.subject),
    ['b1'],
  );
  assert.deepEqual(await mail.mailbox('nobody@example.test'), []);
});

testEachClient('deleteAll() empties every mailbox; numbering goes on and waiting still works', async (mail) => {
  await send(mail, { to: 'ann@example.test, bob@example.test', subject: 'old' });
  await mail.waitForMessage({ subject: 'old' });
  await mail.deleteAll();
  assert.deepEqual(await mail.messages(), []);
  assert.deepEqual(await mail.mailbox('ann@example.test'), []);
  await assert.rejects(mail.waitForMessage({ subject: 'old' }, { timeout: 50 }), /No message arrived/);
  const waiting = mail.waitForMessage({ to: 'ann@example.test' });
  await send(mail, { to: 'ann@example.test', subject: 'new' });
  const fresh = await waiting;
  assert.equal(fresh.subject, 'new');
  assert.equal(fresh.number, 2, 'MH numbers are never reused');
});

test('createAddress gives unique addresses on a reserved domain', () => {
  const addresses = new Set(Array.from({ length: 10_000 }, () => createAddress()));
  assert.equal(addresses.size, 10_000);
  for (const address of [...addresses].slice(0, 5)) assert.match(address, /^test-[0-9a-f]{16}@example\.test$/);
  assert.equal(testAddressDomain, 'example.test');
  assert.match(createAddress('signup'), /^signup-[0-9a-f]{16}@example\.test$/);
  assert.match(createAddress('first.last+tag'), /^first\.last\+tag-[0-9a-f]{16}@example\.test$/);
  for (const bad of ['', 'a b', 'a@b', '.lead', 'trail.', 'a..b', 'x'.repeat(65)]) {
    assert.throws(() => createAddress(bad), TypeError, bad);
  }
});

testEachClient('createAddress on the handle: addresses are accepted by the server and by Python', async (mail) => {
  const address = mail.createAddress('py');
  await sendWithPython(
    mail,
    `msg = EmailMessage()\nmsg["From"] = "app@example.test"\nmsg["To"] = "${address}"\nmsg["Subject"] = "hi"\nmsg.set_content("x")`,
  );
  const msg = await mail.waitForMessage({ to: address });
  assert.equal(msg.mailbox, address);
});

testEachClient(
  "20 concurrent tests, each with its own address, never see each other's mail",
  async (mail, t) => {
    const seen = new Map<string, string[]>();
    let running = 0;
    let mostRunning = 0;
    // 20 waiters are 20 listeners on the store: no "possible memory leak" warning for them.
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning.name);
    process.on('warning', onWarning);
    t.after(() => void process.off('warning', onWarning));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.test(`parallel test ${i}`, async () => {
          mostRunning = Math.max(mostRunning, ++running);
          const address = mail.createAddress(`parallel${i}`);
          // Half wait before their mail is sent, half after.
          const early = i % 2 === 0 ? mail.waitForMessages({ to: address }, 2) : undefined;
          await send(mail, { to: address, subject: `Welcome #${i}`, text: `code ${i}` });
          await send(mail, { to: address, subject: `Reminder #${i}`, text: `code ${i}` });
          const mine = await (early ?? mail.waitForMessages({ to: address }, 2));
          seen.set(
            address,
            mine.map((m) => m.subject),
          );
          assert.deepEqual(
            mine.map((m) => m.subject),
            [`Welcome #${i}`, `Reminder #${i}`],
          );
          assert.ok(mine.every((m) => m.text === `code ${i}` && m.mailbox === address));
          assert.equal((await mail.messages({ to: address })).length, 2);
          assert.equal((await mail.mailbox(address)).length, 2);
          // Nobody else's mail matches my filter, even after all of it arrived. (The timeout leaves
          // room for 20 waits listing and loading 40 messages at once over HTTP on a busy machine.)
          await assert.rejects(mail.waitForMessages({ to: address }, 3, { timeout: 2000 }), /2 of 3 messages matched/);
          running--;
        }),
      ),
    );
    assert.equal(seen.size, 20);
    assert.equal(mostRunning, 20, 'the subtests ran at the same time');
    assert.deepEqual(warnings, []);
    assert.equal((await mail.messages()).length, 40);
  },
  { concurrency: 20 },
);
