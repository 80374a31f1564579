/**
 * A client that hangs up mid-DATA once its body has spilled from memory to a temp file
 * (bodies over 1 MiB): the temp file must go, no message may be stored, and the server must
 * live on.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, tempDir } from '../helpers.js';
import { whenDir } from '../mailbox/support.js';
import { inData, LoadClient, markedMessage } from './load-client.js';

const from = 'load@example.test';
const to = 'sink@example.test';

test('a client that disconnects mid-DATA after a spilled (> 1 MiB) body: no temp file, no message, the server lives on', async () => {
  const mailDir = await tempDir();
  const { cli, port } = await CliProcess.listening(mailDir);
  const died = cli.exited.then((code) => {
    throw new Error(`the server exited (${code}):\n${cli.stderr}`);
  });
  died.catch(() => {});
  try {
    const tmp = path.join(mailDir, '.tmp');
    const client = await inData(port, from, to);
    const line = Buffer.from(`${'y'.repeat(998)}\r\n`);
    const body = Buffer.concat(Array.from({ length: 3 * 1024 }, () => line));
    // The body grows past the in-memory limit: the server streams it to a temp file.
    const spilled = whenDir(tmp, (entries) => entries.length > 0, 'holding the spilled body');
    client.socket.write(body);
    await Promise.race([spilled, died]);
    client.socket.destroy();
    await Promise.race([whenDir(tmp, (entries) => entries.length === 0, 'empty'), died]);

    const next = await Promise.race([LoadClient.connect(port), died]);
    await next.greet();
    assert.match((await next.send(from, 'other@example.test', markedMessage('after', 1))) ?? 'closed', /^250 /);
    await next.quit();
  } finally {
    cli.child.kill('SIGTERM');
  }
  assert.equal(await cli.exited, 0, cli.stderr);
  assert.equal(
    fs.existsSync(path.join(mailDir, 'example.test', 'sink')),
    false,
    'no message stored for the cut-short body',
  );
  assert.deepEqual(fs.readdirSync(path.join(mailDir, '.tmp')), []);
});
