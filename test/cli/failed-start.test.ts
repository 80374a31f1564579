/** A CLI start that fails leaves nothing behind: not even the MAIL_DIR it would have made. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, tempDir } from '../helpers.js';

/** Runs `body` with a port that is taken for its length. */
async function withBusyPort(body: (port: number) => Promise<void>): Promise<void> {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  try {
    await body((busy.address() as net.AddressInfo).port);
  } finally {
    await new Promise((resolve) => busy.close(resolve));
  }
}

test('the CLI on a port in use exits 1 and leaves no MAIL_DIR', async () => {
  const mailDir = path.join(await tempDir(), 'mail');
  await withBusyPort(async (port) => {
    const cli = CliProcess.start([mailDir, '--smtp-port', String(port)]);
    assert.equal(await cli.exited, 1, cli.stderr);
    assert.match(cli.stderr, /already in use/);
  });
  assert.equal(existsSync(mailDir), false);
});

test('the CLI on a port in use leaves an existing MAIL_DIR as empty as it was', async () => {
  const mailDir = await tempDir();
  await withBusyPort(async (port) => {
    const cli = CliProcess.start([mailDir, '--smtp-port', String(port)]);
    assert.equal(await cli.exited, 1, cli.stderr);
  });
  assert.deepEqual(await readdir(mailDir), []);
});
