// Run: npx playwright test --config examples/playwright/playwright.config.ts
// One mail server per Playwright worker, as a worker-scoped fixture. This test drives the app
// directly (no browser); a browser test waits for mail the same way after clicking "Sign up".
import { test as base, expect } from '@playwright/test';
import { startTestMailServer, type TestMailServer } from 'test-mail-server';
import { sendWelcomeEmail } from '../app/mailer.js';

const test = base.extend<object, { mail: TestMailServer }>({
  mail: [
    async ({}, use) => {
      const mail = await startTestMailServer();
      process.env.SMTP_URL = mail.smtpUrl;
      await use(mail);
      await mail.close();
    },
    { scope: 'worker' },
  ],
});

test('signing up sends a welcome email with a confirmation link', async ({ mail }) => {
  const to = mail.createAddress('signup');
  await sendWelcomeEmail(to, 'Ann');

  const msg = await mail.waitForMessage({ to, subject: /welcome/i });
  expect(msg.subject).toBe('Welcome to Acme, Ann!');
  const confirm = msg.links.find((link) => link.includes('/confirm?token='));
  expect(confirm).toMatch(/^https:\/\/acme\.test\/confirm\?token=[0-9a-f]{16}$/);
  // In a browser test: await page.goto(confirm!);
});
