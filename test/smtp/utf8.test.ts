/**
 * Invalid UTF-8 in addresses and EHLO names is refused rather than decoded to U+FFFD, which made
 * two different recipients one mailbox (and lost a copy). Valid UTF-8 (SMTPUTF8) still works.
 * Over real sockets, with raw bytes.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { formatReply, reply } from '../../src/smtp/replies.js';
import { RawSmtp, startServer } from '../helpers.js';

const line = (text: string) => Buffer.from(`${text}\r\n`, 'latin1');

test('recipients, senders and EHLO names that are not valid UTF-8 are refused; valid UTF-8 is kept', async () => {
  const server = await startServer();
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    smtp.send(line('EHLO caf\xe9.test'));
    assert.equal(await smtp.reply(), formatReply(reply.badHeloName('not valid UTF-8')));
    await smtp.command('EHLO client.test');
    smtp.send(line('MAIL FROM:<\xff@example.test> SMTPUTF8'));
    assert.equal(await smtp.reply(), formatReply(reply.refusedSender('not valid UTF-8')));
    await smtp.command('MAIL FROM:<ann@example.test> SMTPUTF8');
    // Two different byte strings, both U+FFFD once decoded leniently.
    for (const local of ['\xff', '\xfe', 'caf\xe9', '\xc3']) smtp.send(line(`RCPT TO:<${local}@utf8.test>`));
    for (let i = 0; i < 4; i++)
      assert.equal(await smtp.reply(), formatReply(reply.refusedRecipient('not valid UTF-8')));
    assert.equal(await smtp.command('RCPT TO:<café@utf8.test>'), formatReply(reply.recipientOk));
    await smtp.command('DATA');
    assert.match(await smtp.command('Subject: utf8\r\n\r\nbody\r\n.'), /^250 /);
    smtp.close();
    assert.deepEqual(await readdir(path.join(server.mailDir, 'utf8.test')), ['café']);
  } finally {
    await server.close();
  }
});
