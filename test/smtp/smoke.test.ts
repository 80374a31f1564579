import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { RawSmtp, startServer } from '../helpers.js';

test('a raw SMTP conversation stores the message in the MH folder', async () => {
  const server = await startServer();
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    assert.match(await smtp.reply(), /^220 /);
    assert.match(await smtp.command('EHLO client.test'), /250 AUTH PLAIN LOGIN CRAM-MD5$/);
    assert.equal(await smtp.command('MAIL FROM:<ann@example.test>'), '250 2.1.0 Sender OK');
    assert.equal(await smtp.command('RCPT TO:<bob@Example.TEST>'), '250 2.1.5 Recipient OK');
    assert.match(await smtp.command('DATA'), /^354 /);
    assert.match(await smtp.command('Subject: hi\r\n\r\nHello\r\n.'), /^250 2\.0\.0 /);
    const stored = await readFile(path.join(server.mailDir, 'example.test', 'bob', '1'), 'utf8');
    assert.match(stored, /^Return-Path: <ann@example.test>\r\nDelivered-To: bob@example.test\r\nReceived: /);
    assert.ok(stored.endsWith('Subject: hi\r\n\r\nHello\r\n'));
    smtp.close();
  } finally {
    await server.close();
  }
});
