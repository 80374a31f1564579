/**
 * A client that pipelines commands and never reads the replies: the server stops reading it once
 * its replies are not drained, so that client costs a bounded amount of memory, and another
 * client is served normally meanwhile. Over real sockets; the floods are sized from the
 * kernel's buffer limits, so that only a server reading everything could drain the client.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { RawSmtp, startServer } from '../helpers.js';
import { kernelBufferBytes } from './kernel.js';

const MiB = 1024 * 1024;

test('a client that never reads its replies is not read further; another client is served meanwhile', async () => {
  let onPaused = () => {};
  const paused = new Promise<'paused'>((resolve) => (onPaused = () => resolve('paused')));
  const server = await startServer({
    logLevel: 'debug',
    logWriter: (line) => {
      if (line.includes('input paused: the client is not reading its replies')) onPaused();
    },
  });
  const greedy = net.connect(server.smtpPort, '127.0.0.1');
  try {
    await new Promise((resolve) => greedy.once('connect', resolve));
    const other = await RawSmtp.connect(server.smtpPort);
    await other.reply();
    const ehloLines = (await other.command('EHLO other.test')).split('\n');

    // EHLOs whose replies overflow what the kernel holds, then long NOOPs the server must not read.
    const buffers = kernelBufferBytes();
    const ehlos = Math.ceil((buffers + MiB) / ehloLines.join('\r\n').length);
    const noop = `NOOP ${'x'.repeat(4000)}\r\n`;
    const noops = Math.ceil((buffers + 16 * MiB) / noop.length);
    const drained = new Promise<'drained'>((resolve) => greedy.once('drain', () => resolve('drained')));
    assert.equal(greedy.write(Buffer.from('EHLO greedy.test\r\n'.repeat(ehlos) + noop.repeat(noops))), false);
    assert.equal(await Promise.race([paused, drained]), 'paused', 'the server read the whole flood');

    await other.startData('ann@example.test', ['bob@example.test']);
    assert.match(await other.command('Subject: meanwhile\r\n\r\nserved\r\n.'), /^250 2\.0\.0 OK: stored as /);
    assert.ok(greedy.writableLength > 0, 'the greedy client is not drained while it reads nothing');

    // Once it reads, it gets every reply (the greeting, each EHLO's lines, each NOOP) and drains.
    const expected = 1 + ehlos * ehloLines.length + noops;
    let lines = 0;
    const allRead = new Promise<void>((resolve) =>
      greedy.on('data', (chunk: Buffer) => {
        for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) lines++;
        if (lines >= expected) resolve();
      }),
    );
    await allRead;
    assert.equal(lines, expected);
    assert.equal(await drained, 'drained');
    other.close();
  } finally {
    greedy.destroy();
    await server.close();
  }
});
