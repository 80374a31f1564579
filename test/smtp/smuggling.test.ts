/**
 * SMTP smuggling (CVE-2023-51766 and kin): a message whose body holds a bare-LF "end of data"
 * followed by a second envelope. Only CRLF "." CRLF ends DATA here, so the rest is body and no
 * second message exists; BDAT counts bytes and is immune by construction. Over real sockets.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { inboxNumbers, RawSmtp, startServer } from '../helpers.js';

let server: TestMailServer;
before(async () => {
  server = await startServer();
});
after(() => server.close());

/** The second envelope an attacker hides after a fake end of data, a forged mailbox per test. */
const smuggled = (local: string) =>
  `MAIL FROM:<admin@bank.test>\r\nRCPT TO:<forged-${local}@smuggle.test>\r\nDATA\r\nSubject: forged\r\n\r\nevil\r\n`;

async function stored(local: string): Promise<Buffer> {
  const folder = path.join(server.mailDir, 'smuggle.test', local);
  const files = (await readdir(folder)).filter((name) => /^\d+$/.test(name));
  assert.deepEqual(files, ['1']);
  const text = await readFile(path.join(folder, '1'));
  // Our three trace fields (Received folds over three lines) come first.
  return text.subarray(text.indexOf('\r\n', text.indexOf('\tfor <')) + 2);
}

async function greeted(): Promise<RawSmtp> {
  const smtp = await RawSmtp.connect(server.smtpPort);
  await smtp.reply();
  await smtp.command('EHLO client.test');
  return smtp;
}

for (const [name, fakeEnd] of [
  ['LF . LF', '\n.\n'],
  ['LF . CRLF', '\n.\r\n'],
  ['CRLF . LF', '\r\n.\n'],
] as const) {
  test(`DATA: ${name} is body, not the end; the envelope after it is not obeyed`, async () => {
    const local = `victim-${name.replace(/\W+/g, '')}`;
    const smtp = await greeted();
    await smtp.startData('ann@example.test', [`${local}@smuggle.test`]);
    const body = `Subject: one\r\n\r\nbody${fakeEnd}${smuggled(local)}`;
    smtp.send(Buffer.from(`${body}.\r\nQUIT\r\n`));
    assert.match(await smtp.reply(), /^250 2\.0\.0 OK: stored as /);
    // The QUIT after the real end is the next command: nothing in between ran as one.
    assert.match(await smtp.reply(), /^221 2\.0\.0 /);
    assert.deepEqual(await stored(local), Buffer.from(body));
    assert.deepEqual(inboxNumbers(server.store, `forged-${local}@smuggle.test`), []);
  });
}

test('BDAT counts bytes: a chunk holding CRLF . CRLF and an envelope is stored whole, and nothing in it runs', async () => {
  const smtp = await greeted();
  await smtp.envelope('ann@example.test', ['bdat-victim@smuggle.test']);
  const chunk = Buffer.from(`Subject: one\r\n\r\nbody\r\n.\r\n${smuggled('bdat')}.\r\n`);
  smtp.send(Buffer.concat([Buffer.from(`BDAT ${chunk.length} LAST\r\n`), chunk, Buffer.from('QUIT\r\n')]));
  assert.match(await smtp.reply(), /^250 2\.0\.0 OK: stored as /);
  assert.match(await smtp.reply(), /^221 2\.0\.0 /);
  assert.deepEqual(await stored('bdat-victim'), chunk);
  assert.deepEqual(inboxNumbers(server.store, 'forged-bdat@smuggle.test'), []);
});
