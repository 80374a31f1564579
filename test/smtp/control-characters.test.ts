/**
 * Control characters a client sends in EHLO/HELO names and MAIL FROM addresses are refused
 * (recipients already were, by the store): they would land in the stored Return-Path and
 * Received lines, where a bare CR makes `EHLO evil\rX-Injected: x` a header for Python's email
 * parser. Over real sockets; the stored file is read back with Python's email parser.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { formatReply, reply } from '../../src/smtp/replies.js';
import { python, RawSmtp, startServer } from '../helpers.js';

/** CR last: the message below is sent right after its EHLO attempt. */
const controls = { NUL: '\0', BEL: '\x07', ESC: '\x1b', DEL: '\x7f', TAB: '\t', CR: '\r' };

test('control characters in EHLO, HELO and MAIL FROM are refused; the message stored after them has only our trace fields, from an unnamed client', async () => {
  const server = await startServer();
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    for (const [name, c] of Object.entries(controls)) {
      for (const verb of ['EHLO', 'HELO'])
        assert.equal(
          await smtp.command(`${verb} evil${c}X-Injected: x`),
          formatReply(reply.badHeloName('contains a control character')),
          `${verb} ${name}`,
        );
      assert.equal(
        await smtp.command(`MAIL FROM:<ann${c}X-Injected: x@example.test>`),
        formatReply(reply.refusedSender('contains a control character')),
        `MAIL FROM ${name}`,
      );
    }
    await smtp.startData('ann@example.test', ['bob@example.test']);
    assert.match(await smtp.command('Subject: clean\r\n\r\nbody\r\n.'), /^250 /);
    smtp.close();
    const headers = JSON.parse(
      await python(
        'import email, json, sys\nm = email.message_from_binary_file(open(sys.argv[1], "rb"))\nprint(json.dumps(m.items()))',
        [path.join(server.mailDir, 'example.test', 'bob', '1')],
      ),
    ) as Array<[string, string]>;
    assert.deepEqual(
      headers.map(([field]) => field),
      ['Return-Path', 'Delivered-To', 'Received', 'Subject'],
    );
    assert.match(headers[2][1], /^from unknown \(\[127\.0\.0\.1\]\)/);
  } finally {
    await server.close();
  }
});
