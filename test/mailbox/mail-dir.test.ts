/**
 * MAIL_DIR itself: a clear error when it cannot be used, nothing left behind by a start that
 * fails, what is removed while running made again, and two stores of one process sharing it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { PortInUseError, startTestMailServer } from '../../src/index.js';
import { MailStore } from '../../src/mailbox/store.js';
import { exec, RawSmtp, repoRoot, startServer, tempDir, tsxLoader, inboxNumbers } from '../helpers.js';
import { quiet, remount, whenDir, withTmpfs } from './support.js';

/** Not a timing assertion: a test that fails must still end. */
const guard = { timeout: 60_000 };

/** A client in DATA for one recipient, its envelope accepted. */
async function inData(port: number, to = 'bob@x.test'): Promise<RawSmtp> {
  const smtp = await RawSmtp.connect(port);
  await smtp.reply();
  await smtp.command('EHLO c.test');
  await smtp.startData('a@b.test', [to]);
  return smtp;
}

/** A body of about `bytes` (over 1 MiB, it spills to a temp file), without the final dot. */
function body(bytes: number): Buffer {
  const line = `${'z'.repeat(78)}\r\n`;
  return Buffer.from(`Subject: s\r\n\r\n${line.repeat(Math.ceil(bytes / line.length))}`);
}

const mebibyte = 1024 * 1024;

async function send(port: number, to: string, bytes = 100): Promise<string> {
  const smtp = await inData(port, to);
  smtp.send(body(bytes));
  const reply = await smtp.command('.');
  smtp.close();
  return reply;
}

async function rejectsWith(mailDir: string, code: string, message: RegExp): Promise<void> {
  await assert.rejects(MailStore.open(mailDir, quiet), (error: Error & { code?: string }) => {
    assert.equal(error.code, code);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n/, 'one line');
    return true;
  });
}

test('a read-only MAIL_DIR fails to open with TMS_MAIL_DIR_READ_ONLY, in one line naming it', guard, async () => {
  await withTmpfs('size=1m,ro', async (dir) => {
    await rejectsWith(
      dir,
      'TMS_MAIL_DIR_READ_ONLY',
      new RegExp(`^mail directory ${dir} is read-only \\(EROFS from mkdir ${dir}/\\.tmp\\)$`),
    );
    const missing = path.join(dir, 'mail');
    await rejectsWith(missing, 'TMS_MAIL_DIR_READ_ONLY', new RegExp(`^mail directory ${missing} is read-only`));
  });
});

test(
  'a MAIL_DIR that turned read-only since it was made (.tmp and .locks there) also fails with TMS_MAIL_DIR_READ_ONLY',
  guard,
  async () => {
    await withTmpfs('size=1m', async (dir) => {
      await (await MailStore.open(dir, quiet)).close();
      await remount(dir, 'ro');
      await rejectsWith(
        dir,
        'TMS_MAIL_DIR_READ_ONLY',
        new RegExp(`^mail directory ${dir} is read-only \\(EROFS from open ${dir}/\\.locks/`),
      );
    });
  },
);

test('a MAIL_DIR that is a file, or inside one, fails with TMS_MAIL_DIR_NOT_DIRECTORY', async () => {
  const file = path.join(await tempDir(), 'mail');
  await writeFile(file, 'not a folder');
  await rejectsWith(file, 'TMS_MAIL_DIR_NOT_DIRECTORY', new RegExp(`^mail directory ${file} is not a directory`));
  await rejectsWith(path.join(file, 'inner'), 'TMS_MAIL_DIR_NOT_DIRECTORY', /is not a directory \(ENOTDIR from mkdir /);
});

test('a MAIL_DIR the user may not write fails with TMS_MAIL_DIR_PERMISSION', guard, async () => {
  // As nobody, in a folder only root may enter (tests run as root, whom permissions do not stop).
  const mailDir = path.join(await tempDir(), 'mail');
  const script = `
    const { MailStore } = await import(${JSON.stringify(path.join(repoRoot, 'src/mailbox/store.ts'))});
    const { createLogger } = await import(${JSON.stringify(path.join(repoRoot, 'src/log.ts'))});
    await MailStore.open(process.argv[1], createLogger('error')).catch((error) => console.log(error.code, error.message));`;
  const args = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', tsxLoader];
  const { stdout, stderr } = await exec('setpriv', [...args, '--input-type=module', '-e', script, mailDir], {
    cwd: '/',
  });
  assert.match(
    stdout,
    new RegExp(`^TMS_MAIL_DIR_PERMISSION permission denied on mail directory ${mailDir} \\(EACCES`),
    stderr,
  );
});

test(
  'a library start that fails (port in use) removes the MAIL_DIR it made, and leaves an existing one empty',
  guard,
  async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const smtpPort = (busy.address() as net.AddressInfo).port;
    try {
      const missing = path.join(await tempDir(), 'deep', 'mail');
      await assert.rejects(startTestMailServer({ mailDir: missing, smtpPort }), PortInUseError);
      assert.equal(existsSync(path.dirname(missing)), false, 'nor the parent it made');
      const existing = await tempDir();
      await assert.rejects(startTestMailServer({ mailDir: existing, smtpPort }), PortInUseError);
      assert.deepEqual(await readdir(existing), []);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  },
);

for (const removed of ['MAIL_DIR', '.tmp', '.locks']) {
  test(
    `${removed} removed while the server runs (CI clean-up) is made again: small and spilled bodies get 250`,
    guard,
    async () => {
      const server = await startServer();
      try {
        assert.match(await send(server.smtpPort, 'bob@x.test'), /^250 /);
        const gone = removed === 'MAIL_DIR' ? server.mailDir : path.join(server.mailDir, removed);
        await rm(gone, { recursive: true });
        assert.match(await send(server.smtpPort, 'bob@x.test'), /^250 /);
        assert.match(await send(server.smtpPort, 'ann@x.test', 2 * mebibyte), /^250 /);
        assert.deepEqual(await readdir(path.join(server.mailDir, '.tmp')), []);
      } finally {
        await server.close();
      }
    },
  );
}

test(
  'two servers in one process on one MAIL_DIR: the second start leaves the body the first is spilling alone',
  guard,
  async () => {
    const mailDir = await tempDir();
    const first = await startServer({ mailDir });
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const smtp = await inData(first.smtpPort);
      smtp.send(body(2 * mebibyte));
      await whenDir(path.join(mailDir, '.tmp'), (entries) => entries.length === 1, 'holding the spilled body');
      second = await startServer({ mailDir });
      assert.match(await smtp.command('.'), /^250 /);
      smtp.close();
      assert.equal(inboxNumbers(first.store, 'bob@x.test').length, 1);
    } finally {
      await second?.close();
      await first.close();
    }
  },
);

test(
  'two servers in one process on one MAIL_DIR receive spilled bodies at once without their temp files colliding',
  guard,
  async () => {
    const mailDir = await tempDir();
    const servers = [await startServer({ mailDir }), await startServer({ mailDir })];
    try {
      const clients = await Promise.all(servers.map((server) => inData(server.smtpPort)));
      for (const client of clients) client.send(body(2 * mebibyte));
      const replies = await Promise.all(clients.map((client) => client.command('.')));
      for (const reply of replies) assert.match(reply, /^250 /);
      for (const client of clients) client.close();
      // The other server's copy is on disk; the first store's index sees it once it looks.
      await servers[0].store.refresh();
      assert.deepEqual(inboxNumbers(servers[0].store, 'bob@x.test'), [1, 2]);
    } finally {
      for (const server of servers) await server.close();
    }
  },
);
