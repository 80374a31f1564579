/**
 * A body over 1 MiB streams to a temp file as it arrives. When that file fails (the disk fills
 * up, the file system turns read-only), that message gets 451 4.3.0, nothing of it stays in
 * .tmp, and the server goes on serving: in the CLI the process lives, in the library the host's
 * process never sees the error.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, startServer } from '../helpers.js';
import { remount, withTmpfs } from '../mailbox/support.js';
import { inData, LoadClient, markedMessage } from './load-client.js';

const from = 'load@example.test';
/** Not a timing assertion: without the fix a crashed session never replies, and a hung test would keep its mount. */
const guard = { timeout: 120_000 };
const to = 'sink@example.test';

/** About `bytes` of body in 1000-byte lines, ending with the final dot. */
function bigBody(bytes: number): Buffer {
  const line = Buffer.from(`${'y'.repeat(998)}\r\n`);
  return Buffer.concat([...Array.from({ length: Math.ceil(bytes / line.length) }, () => line), Buffer.from('.\r\n')]);
}

/** Sends a big body in one transaction; the reply to its final dot. */
async function sendBig(port: number, bytes: number): Promise<string | undefined> {
  const client = await inData(port, from, to);
  client.socket.write(bigBody(bytes));
  const reply = await client.reply();
  await client.quit();
  return reply;
}

async function sendSmall(port: number): Promise<string | undefined> {
  const client = await LoadClient.connect(port);
  await client.greet();
  const reply = await client.send(from, 'other@example.test', markedMessage('after', 1));
  await client.quit();
  return reply;
}

/** Runs `body` against a CLI server on `mailDir`; fails if the server exits before it is stopped. */
async function withCli(mailDir: string, body: (port: number) => Promise<void>): Promise<void> {
  const { cli, port } = await CliProcess.listening(mailDir);
  const died = cli.exited.then((code) => {
    throw new Error(`the server exited (${code}):\n${cli.stderr}`);
  });
  died.catch(() => {});
  try {
    await Promise.race([body(port), died]);
  } finally {
    cli.child.kill('SIGTERM');
  }
  assert.equal(await cli.exited, 0, cli.stderr);
}

test(
  'a spilled body that fills the disk gets 451 4.3.0 and leaves nothing in .tmp; the server serves the next message',
  guard,
  async () => {
    await withTmpfs('size=2m', async (mailDir) => {
      await withCli(mailDir, async (port) => {
        assert.match((await sendBig(port, 3 * 1024 * 1024)) ?? 'closed', /^451 4\.3\.0 /);
        assert.deepEqual(await readdir(path.join(mailDir, '.tmp')), []);
        assert.match((await sendSmall(port)) ?? 'closed', /^250 /);
      });
    });
  },
);

test(
  'a spilled body on a file system turned read-only gets 451 4.3.0; once writable again, the server stores the next message',
  guard,
  async () => {
    await withTmpfs('size=16m', async (mailDir) => {
      await withCli(mailDir, async (port) => {
        await remount(mailDir, 'ro');
        try {
          assert.match((await sendBig(port, 1.5 * 1024 * 1024)) ?? 'closed', /^451 4\.3\.0 /);
        } finally {
          await remount(mailDir, 'rw');
        }
        assert.match((await sendSmall(port)) ?? 'closed', /^250 /);
        assert.deepEqual(await readdir(path.join(mailDir, '.tmp')), []);
      });
    });
  },
);

test(
  'in the library, a spill that fills the disk is a 451 for that message, not an exception in the host process',
  guard,
  async () => {
    await withTmpfs('size=2m', async (mailDir) => {
      const log: string[] = [];
      const server = await startServer({ mailDir, logWriter: (line) => log.push(line) });
      try {
        assert.match((await sendBig(server.smtpPort, 3 * 1024 * 1024)) ?? 'closed', /^451 4\.3\.0 /);
        assert.match(log.join(''), /ERROR .*the message body could not be kept: .*ENOSPC/);
        assert.deepEqual(await readdir(path.join(mailDir, '.tmp')), []);
        assert.match((await sendSmall(server.smtpPort)) ?? 'closed', /^250 /);
      } finally {
        await server.close();
      }
    });
  },
);
