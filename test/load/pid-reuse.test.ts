/**
 * In a container the server is pid 1 on every run. A server killed with -9 while holding a
 * folder's lock leaves a lock naming pid 1, and the next server is pid 1 too: it must see
 * that lock as a leftover (older than itself), not as its own, and deliver at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { cliPath, CliProcess, tempDir, tsxLoader } from '../helpers.js';
import { LoadClient, markedMessage } from './load-client.js';

/** Not a timing assertion: a test that fails must still end. */
const guard = { timeout: 120_000 };

/** The CLI as pid 1 of a new pid namespace (as root, like CI); killing `unshare` kills it with -9. */
async function startAsPid1(mailDir: string): Promise<{ cli: CliProcess; port: number }> {
  const args = ['--pid', '--fork', '--kill-child', process.execPath, '--import', tsxLoader, cliPath, mailDir];
  const cli = new CliProcess(spawn('unshare', [...args, '--smtp-port', '0']));
  const match = await cli.waitForLog(/SMTP listening on [^\s]+:(\d+)/);
  return { cli, port: Number(match[1]) };
}

async function send(port: number, marker: string): Promise<string | undefined> {
  const client = await LoadClient.connect(port);
  await client.greet();
  const reply = await client.send('a@b.test', 'bob@x.test', markedMessage(marker, 1));
  await client.quit();
  return reply;
}

test(
  'after kill -9 of a pid-1 server holding a lock, the next pid-1 server delivers to that folder at once',
  guard,
  async () => {
    const mailDir = await tempDir();
    const folder = path.join(mailDir, 'x.test', 'bob');
    const first = await startAsPid1(mailDir);
    try {
      assert.match((await send(first.port, 'first')) ?? 'closed', /^250 /);
    } finally {
      first.cli.child.kill('SIGKILL');
    }
    await first.cli.exited;
    // What a kill -9 inside a delivery leaves: the server's token, naming pid 1, linked in as the lock.
    const [token] = await readdir(path.join(mailDir, '.locks'));
    assert.equal(await readFile(path.join(mailDir, '.locks', token), 'utf8'), '1\n');
    await link(path.join(mailDir, '.locks', token), path.join(folder, '.mh_sequences.lock'));

    const second = await startAsPid1(mailDir);
    try {
      assert.match((await send(second.port, 'second')) ?? 'closed', /^250 /);
    } finally {
      second.cli.child.kill('SIGKILL');
    }
    await second.cli.exited;
    assert.equal(existsSync(path.join(folder, '.mh_sequences.lock')), false);
    assert.deepEqual((await readdir(folder)).filter((name) => /^\d+$/.test(name)).sort(), ['1', '2']);
  },
);
