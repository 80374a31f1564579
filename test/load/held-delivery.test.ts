/**
 * While a message is being stored, the session reads nothing more from its client: what the
 * client pipelines meanwhile stays in its socket and the kernel, not in the server's memory.
 * Over real sockets, with a delivery the test holds (a fake store behind a real SmtpServer).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { SmtpServer } from '../../src/smtp/server.js';
import { RawSmtp } from '../helpers.js';
import { FakeDelivery } from '../smtp/memory.js';
import { kernelBufferBytes } from './kernel.js';

const MiB = 1024 * 1024;

test('49 MB pipelined during a held delivery are not read until it is done, then arrive whole', async () => {
  const delivery = new FakeDelivery();
  delivery.hold = true;
  let onPaused = () => {};
  const paused = new Promise<void>((resolve) => (onPaused = resolve));
  const log = createLogger('debug', (line) => {
    if (line.includes('input paused: the command before is still in progress')) onPaused();
  });
  const server = new SmtpServer({
    store: delivery,
    log,
    host: '127.0.0.1',
    port: 0,
    smtpsPort: undefined,
    tls: undefined,
    offerStartTls: false,
    serverName: 'mx.held.test',
    maxMessageSize: 256 * MiB,
    maxRecipients: 10,
    idleTimeoutMs: 60_000,
  });
  await server.start();
  const smtp = await RawSmtp.connect(server.port);
  try {
    await smtp.reply();
    await smtp.command('EHLO client.test');
    await smtp.startData('ann@example.test', ['bob@example.test']);
    const first = delivery.nextCall();
    smtp.send('one\r\n.\r\nMAIL FROM:<ann@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA');
    const held = await first;
    // More than the kernel can absorb, so that only reading it could drain the client.
    const size = Math.max(49 * MiB, kernelBufferBytes() + 16 * MiB);
    const flood = Buffer.alloc(size, 'x');
    const drained = new Promise<'drained'>((resolve) => smtp.socket.once('drain', () => resolve('drained')));
    assert.equal(smtp.socket.write(flood), false);
    smtp.send('\r\n.\r\nQUIT');
    const firstEvent = await Promise.race([paused.then(() => 'paused' as const), drained]);
    assert.equal(firstEvent, 'paused', 'the server read the whole flood while the delivery was held');
    assert.ok(smtp.socket.writableLength > 0, 'the client is not drained while the delivery is held');

    const second = delivery.nextCall();
    held.resolve();
    assert.match(await smtp.reply(), /^250 2\.0\.0 OK: stored as /);
    assert.match(await smtp.reply(), /^250 2\.1\.0 /);
    assert.match(await smtp.reply(), /^250 2\.1\.5 /);
    assert.match(await smtp.reply(), /^354 /);
    const next = await second;
    assert.equal(next.bytes.length, size + 2);
    next.resolve();
    assert.match(await smtp.reply(), /^250 2\.0\.0 OK: stored as /);
    assert.match(await smtp.reply(), /^221 /);
    assert.equal(await drained, 'drained');
  } finally {
    smtp.close();
    // A held delivery would keep close waiting for it.
    for (const call of delivery.calls) call.resolve();
    await server.close();
  }
});
