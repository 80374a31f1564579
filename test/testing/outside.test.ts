/**
 * The test helpers see mail that other processes put in MAIL_DIR, and the flags other clients set.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, python, tempDir } from '../helpers.js';
import { clientKinds, send } from './support.js';

for (const kind of clientKinds)
  test(`a waiter on one server sees mail that another server process on the same MAIL_DIR stores [${kind.label}]`, async () => {
    const mailDir = await tempDir();
    const mail = await kind.start({ mailDir });
    const { cli, port } = await CliProcess.listening(mailDir);
    try {
      const to = mail.createAddress('other');
      const waiting = mail.waitForMessage({ to, subject: 'via the other server' }, { timeout: 15_000 });
      await send({ ...mail, smtpPort: port }, { to, subject: 'via the other server', text: 'hello' });
      const message = await waiting;
      assert.equal(message.mailbox, to);
      // The other server's trace lines give its envelope and queue id.
      assert.deepEqual(message.envelope, { from: 'app@example.test', to: [to] });
      assert.equal(message.text, 'hello');
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
      await mail.close();
    }
  });

for (const kind of clientKinds)
  test(`a waiter sees a message a Python script adds with mailbox.MH, and one copied in by hand [${kind.label}]`, async () => {
    const mail = await kind.start();
    try {
      const folder = path.join(mail.mailDir, 'example.test', 'py');
      const fromPython = mail.waitForMessage(
        { mailbox: 'py@example.test', subject: 'from python' },
        { timeout: 15_000 },
      );
      await python(
        'import mailbox,os,sys; os.makedirs(sys.argv[1]); mailbox.MH(sys.argv[1]).add(b"From: Script <s@x.test>\\nSubject: from python\\n\\nhi\\n")',
        [folder],
      );
      const added = await fromPython;
      assert.deepEqual(
        [added.number, added.from, added.text, added.envelope],
        [1, { name: 'Script', address: 's@x.test' }, 'hi', { from: '', to: ['py@example.test'] }],
      );

      const byHand = mail.waitForMessage({ subject: 'copied in' }, { timeout: 15_000 });
      const source = path.join(await tempDir(), 'message.eml');
      await writeFile(source, 'Subject: copied in\r\n\r\nbody\r\n');
      await mkdir(path.join(mail.mailDir, 'example.test', 'hand'));
      await copyFile(source, path.join(mail.mailDir, 'example.test', 'hand', '1'));
      assert.equal((await byHand).mailbox, 'hand@example.test');
      // Listing sees them too, without waiting.
      assert.deepEqual(
        (await mail.messages()).map((m) => m.subject),
        ['from python', 'copied in'],
      );
    } finally {
      await mail.close();
    }
  });

for (const kind of clientKinds)
  test(`parsed messages carry their flags: a message another client marked read shows seen [${kind.label}]`, async () => {
    const mail = await kind.start();
    try {
      const to = mail.createAddress('flags');
      await send(mail, { to, subject: 'read me', text: 'x' });
      const before = await mail.waitForMessage({ to });
      assert.deepEqual(before.flags, {
        seen: false,
        answered: false,
        flagged: false,
        deleted: false,
        draft: false,
        keywords: [],
      });
      // As mutt or an IMAP client would: the sequences change, the file does not.
      const folder = path.join(mail.mailDir, 'example.test', to.split('@')[0]);
      await python(
        'import mailbox,sys; m=mailbox.MH(sys.argv[1]); m.set_sequences({"replied": [1], "$Forwarded": [1]})',
        [folder],
      );
      const [after] = await mail.mailbox(to);
      assert.deepEqual(after.flags, {
        seen: true,
        answered: true,
        flagged: false,
        deleted: false,
        draft: false,
        keywords: ['$Forwarded'],
      });
    } finally {
      await mail.close();
    }
  });
