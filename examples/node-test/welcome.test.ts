// Run: node --import tsx --test examples/node-test/welcome.test.ts
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestMailServer, type TestMailServer } from 'test-mail-server';
import { sendWelcomeEmail } from '../app/mailer.js';

let mail: TestMailServer;

before(async () => {
  mail = await startTestMailServer(); // free port, temp MAIL_DIR removed by close()
  process.env.SMTP_URL = mail.smtpUrl; // smtp://127.0.0.1:PORT
});

after(() => mail.close());

test('signing up sends a welcome email with a confirmation link', async () => {
  const to = mail.createAddress('signup'); // unique: parallel tests never see each other's mail
  await sendWelcomeEmail(to, 'Ann');

  const msg = await mail.waitForMessage({ to, subject: /welcome/i });
  assert.equal(msg.from?.address, 'no-reply@acme.test');
  assert.deepEqual(msg.to, [{ name: 'Ann', address: to }]);
  assert.match(msg.text ?? '', /Hi Ann/);
  const confirm = msg.links.find((link) => link.startsWith('https://acme.test/confirm?token='));
  assert.ok(confirm, `a confirmation link among ${msg.links.join(', ')}`);
});

test('each test sees only its own mail', async () => {
  const to = mail.createAddress('other');
  await sendWelcomeEmail(to, 'Bob');
  const messages = await mail.waitForMessages({ to }, 1);
  assert.equal(messages.length, 1);
  assert.equal(messages[0]!.subject, 'Welcome to Acme, Bob!');
});
