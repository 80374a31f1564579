// Run: npx vitest run --root examples/vitest
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestMailServer, type TestMailServer } from 'test-mail-server';
import { sendWelcomeEmail } from '../app/mailer.js';

let mail: TestMailServer;

beforeAll(async () => {
  mail = await startTestMailServer();
  process.env.SMTP_URL = mail.smtpUrl;
});

afterAll(() => mail.close());

test.concurrent('signing up sends a welcome email with a confirmation link', async () => {
  const to = mail.createAddress('signup');
  await sendWelcomeEmail(to, 'Ann');

  const msg = await mail.waitForMessage({ to, subject: /welcome/i });
  expect(msg.from).toEqual({ name: 'Acme', address: 'no-reply@acme.test' });
  expect(msg.text).toContain('Hi Ann');
  expect(msg.links).toContainEqual(expect.stringMatching(/^https:\/\/acme\.test\/confirm\?token=/));
});

test.concurrent("concurrent tests with their own addresses never see each other's mail", async () => {
  const to = mail.createAddress('other');
  await sendWelcomeEmail(to, 'Bob');
  const msg = await mail.waitForMessage({ to });
  expect(msg.subject).toBe('Welcome to Acme, Bob!');
});
