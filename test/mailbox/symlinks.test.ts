/**
 * The store follows no symbolic link inside MAIL_DIR (MAIL_DIR itself may be one: the user's
 * choice). A link where a domain or mailbox folder, `.mh_sequences` or `.mh_highwater` goes
 * refuses delivery to that mailbox with 451 (the server's set-up is wrong, not the address, and
 * the client's retry succeeds once it is fixed) and one log line naming the link; nothing is
 * written where the link points. Readers never serve a message file that is a link.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { MailStore } from '../../src/mailbox/store.js';
import { RawSmtp, run, startServer, tempDir, inboxNumbers } from '../helpers.js';
import { deliver, quiet } from './support.js';

/** Sends one message over SMTP to a fresh server on `mailDir`; the reply to its final dot, and the error lines logged. */
async function sendTo(mailDir: string, to: string): Promise<{ reply: string; errors: string[] }> {
  const errors: string[] = [];
  const server = await startServer({ mailDir, logLevel: 'error', logWriter: (line) => errors.push(line) });
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO c.test');
    await smtp.startData('a@b.test', [to]);
    const reply = await smtp.command('Subject: s\r\n\r\nbody\r\n.');
    smtp.close();
    return { reply, errors };
  } finally {
    await server.close();
  }
}

/** An empty directory outside MAIL_DIR for links to point at. */
async function outside(): Promise<string> {
  return tempDir('tms-outside-');
}

test('a domain folder that is a symbolic link: 451, one log line naming it, nothing written where it points', async () => {
  const mailDir = await tempDir();
  const target = await outside();
  await symlink(target, path.join(mailDir, 'evil.test'));
  const { reply, errors } = await sendTo(mailDir, 'bob@evil.test');
  assert.match(reply, /^451 4\.3\.0 /);
  assert.equal(errors.length, 1, errors.join(''));
  assert.match(errors[0], /evil\.test is a symbolic link; the store follows no link inside the mail directory/);
  assert.deepEqual(await readdir(target), []);
});

test('a mailbox folder that is a symbolic link: 451, nothing written where it points', async () => {
  const mailDir = await tempDir();
  const target = await outside();
  await mkdir(path.join(mailDir, 'x.test'));
  await symlink(target, path.join(mailDir, 'x.test', 'bob'));
  assert.match((await sendTo(mailDir, 'bob@x.test')).reply, /^451 4\.3\.0 /);
  assert.deepEqual(await readdir(target), []);
});

for (const file of ['.mh_sequences', '.mh_highwater']) {
  test(`a ${file} that is a symbolic link: 451, its target untouched, no message left in the folder`, async () => {
    const mailDir = await tempDir();
    const precious = path.join(await outside(), 'precious');
    await writeFile(precious, 'keep me\n');
    const folder = path.join(mailDir, 'x.test', 'bob');
    await mkdir(folder, { recursive: true });
    await symlink(precious, path.join(folder, file));
    assert.match((await sendTo(mailDir, 'bob@x.test')).reply, /^451 4\.3\.0 /);
    assert.equal(await readFile(precious, 'utf8'), 'keep me\n');
    assert.deepEqual(
      (await readdir(folder)).filter((name) => /^\d+$/.test(name)),
      [],
    );
  });
}

for (const dir of ['.tmp', '.locks']) {
  test(`a ${dir} that is a symbolic link stops the store from opening (TMS_UNSAFE_PATH), nothing written where it points`, async () => {
    const mailDir = await tempDir();
    const target = await outside();
    await symlink(target, path.join(mailDir, dir));
    await assert.rejects(MailStore.open(mailDir, quiet), {
      code: 'TMS_UNSAFE_PATH',
      message: new RegExp(`${dir.replace('.', '\\.')} is a symbolic link`),
    });
    assert.deepEqual(await readdir(target), []);
  });
}

test('readers neither list nor serve a message file that is a link, nor block on a FIFO named like one', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    await deliver(store, ['bob@x.test']);
    const folder = path.join(store.mailDir, 'x.test', 'bob');
    const secret = path.join(await outside(), 'secret');
    await writeFile(secret, 'Subject: secret\n\nnot for readers\n');
    await symlink(secret, path.join(folder, '2'));
    await run('mkfifo', [path.join(folder, '3')]);
    assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1]);
    assert.equal(await store.read({ mailbox: 'bob@x.test', folder: 'INBOX', number: 2 }), undefined);
    assert.equal(await store.read({ mailbox: 'bob@x.test', folder: 'INBOX', number: 3 }), undefined);
    assert.match(
      (await store.read({ mailbox: 'bob@x.test', folder: 'INBOX', number: 1 }))!.toString(),
      /^Return-Path: <a@b\.test>/,
    );
  } finally {
    await store.close();
  }
});

test('readers do not serve a mailbox whose folder is a link', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    await deliver(store, ['bob@x.test']);
    await symlink(path.join(store.mailDir, 'x.test', 'bob'), path.join(store.mailDir, 'x.test', 'eve'));
    assert.deepEqual(store.mailboxes(), ['bob@x.test']);
    assert.deepEqual(inboxNumbers(store, 'eve@x.test'), []);
    assert.equal(await store.read({ mailbox: 'eve@x.test', folder: 'INBOX', number: 1 }), undefined);
  } finally {
    await store.close();
  }
});

test('MAIL_DIR itself may be a symbolic link: mail is stored where it points', async () => {
  const real = await tempDir();
  const mailDir = path.join(await tempDir(), 'mail');
  await symlink(real, mailDir);
  assert.match((await sendTo(mailDir, 'bob@x.test')).reply, /^250 /);
  assert.deepEqual(await readdir(path.join(real, 'x.test', 'bob')), [
    '.mh_highwater',
    '.mh_sequences',
    '.mh_uidvalidity',
    '1',
  ]);
});
