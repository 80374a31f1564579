/**
 * Cross-protocol requests: a web page can make a browser POST to 127.0.0.1:8025 with SMTP
 * commands in the body. The server hangs up at the HTTP request line, so nothing in the body
 * runs. Over real sockets, with Node's own fetch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReply, reply } from '../../src/smtp/replies.js';
import { RawSmtp, startServer } from '../helpers.js';

test('an HTTP POST carrying SMTP commands stores nothing: the server hangs up at its request line', async () => {
  const warnings: string[] = [];
  let onWarning = () => {};
  const warned = new Promise<'warned'>((resolve) => (onWarning = () => resolve('warned')));
  const server = await startServer({
    logWriter: (line) => {
      warnings.push(line);
      if (line.includes(' WARNING ')) onWarning();
    },
  });
  try {
    const delivered = new Promise<'delivered'>((resolve) =>
      server.store.on('change', (change) => change.kind === 'added' && resolve('delivered')),
    );
    const body =
      'EHLO evil.test\r\nMAIL FROM:<page@evil.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n' +
      'Subject: from a web page\r\n\r\nforged\r\n.\r\nQUIT\r\n';
    const request = fetch(`http://127.0.0.1:${server.smtpPort}/`, { method: 'POST', body });
    const outcome = request.then(
      () => 'answered',
      () => 'failed',
    );
    assert.equal(await Promise.race([warned, delivered]), 'warned');
    assert.equal(await outcome, 'failed', 'no HTTP response');
    assert.match(
      warnings.join(''),
      /WARNING SMTP 127\.0\.0\.1 sent an HTTP request \("POST \/ HTTP\/1\.1"\); closing the connection/,
    );
    // A round trip on another connection: had anything of the body run, it would be stored by now.
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('NOOP');
    smtp.close();
    assert.deepEqual(server.store.mailboxes(), []);
  } finally {
    await server.close();
  }
});

test('a raw GET request line gets 421 4.7.0 and the connection is closed', async () => {
  const server = await startServer({ logWriter: () => {} });
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    smtp.send('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nNOOP');
    assert.equal(await smtp.reply(), formatReply(reply.httpRefused));
    await smtp.closed;
  } finally {
    await server.close();
  }
});
