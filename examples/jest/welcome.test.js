// Run: NODE_OPTIONS=--experimental-vm-modules npx jest --config examples/jest/jest.config.js
// (test-mail-server is an ES module: Jest loads it natively with transform: {} and that flag.)
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startTestMailServer } from 'test-mail-server';
import { sendWelcomeEmail } from '../app/mailer.js';

let mail;

beforeAll(async () => {
  mail = await startTestMailServer();
  process.env.SMTP_URL = mail.smtpUrl;
});

afterAll(() => mail.close());

test('signing up sends a welcome email with a confirmation link', async () => {
  const to = mail.createAddress('signup');
  await sendWelcomeEmail(to, 'Ann');

  const msg = await mail.waitForMessage({ to, subject: /welcome/i });
  expect(msg.from).toEqual({ name: 'Acme', address: 'no-reply@acme.test' });
  expect(msg.html).toContain('Confirm your address');
  expect(msg.links).toContainEqual(expect.stringMatching(/^https:\/\/acme\.test\/confirm\?token=/));
});
