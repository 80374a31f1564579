/**
 * The test toolkit over HTTP beyond the shared suite (test/testing runs that against `connect()`
 * too): a server in another process, our JSON with links and raw bytes, chaos rules, auth, and
 * what a client is told when the server cannot be reached.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  ChaosRuleError,
  connect,
  MailServerRequestError,
  parseChaosRule,
  type ParsedMessage,
} from '../../src/index.js';
import { CliProcess, freePort, tempDir } from '../helpers.js';
import { send as sendTo } from '../testing/support.js';
import { api, folderOf, send, startHttp } from './support.js';

test('connect() waits for mail on a server in another process, over its event stream', async () => {
  const mailDir = await tempDir();
  const { cli, port: smtpPort } = await CliProcess.listening(mailDir, ['--http-port', '0']);
  try {
    const [, httpPort] = await cli.waitForLog(/HTTP listening on 127\.0\.0\.1:(\d+)/);
    const mail = await connect(`http://127.0.0.1:${httpPort}`);
    const to = mail.createAddress('signup');
    const waiting = mail.waitForMessage({ to, subject: /welcome/i }, { timeout: 15_000 });
    await sendTo(
      { host: '127.0.0.1', smtpPort },
      {
        to,
        subject: 'Welcome!',
        html: '<a href="https://app.test/confirm?t=1&amp;u=2">Confirm</a>',
      },
    );
    const message = await waiting;
    assert.deepEqual(message.links, ['https://app.test/confirm?t=1&u=2']);
    const at = to.lastIndexOf('@');
    assert.deepEqual(message.raw, readFileSync(path.join(mailDir, to.slice(at + 1), to.slice(0, at), '1')));
    await mail.close();
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});

test('our JSON of a message has its links and its raw bytes exactly as stored, by Mailpit ID or latest', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, {
    to: 'ann@example.test, bob@example.test',
    subject: 'Reset',
    text: 'Reset here: https://app.test/reset?token=abc.',
  });
  const file = readFileSync(path.join(folderOf(server, 'ann@example.test'), '1'));
  for (const name of [id, 'latest']) {
    const json = (await (await api(server, `/api/tms/messages/${name}`)).json()) as { links: string[]; raw: string };
    assert.deepEqual(json.links, ['https://app.test/reset?token=abc']);
    assert.deepEqual(Buffer.from(json.raw, 'base64'), file);
  }
  const raw = await api(server, `/api/tms/messages/${id}/raw`);
  assert.equal(raw.headers.get('content-type'), 'message/rfc822');
  assert.deepEqual(Buffer.from(await raw.arrayBuffer()), file);
  const { messages } = (await (await api(server, '/api/tms/messages')).json()) as {
    messages: Array<{ id: string; item: string; mailbox: string }>;
  };
  assert.deepEqual(
    messages.map((m) => [m.mailbox, m.item]),
    [
      ['ann@example.test', id],
      ['bob@example.test', id],
    ],
  );
  const bob = (await (await api(server, `/api/tms/messages/${messages[1].id}`)).json()) as { raw: string };
  assert.deepEqual(Buffer.from(bob.raw, 'base64'), readFileSync(path.join(folderOf(server, 'bob@example.test'), '1')));
  assert.equal((await api(server, '/api/tms/messages/c_bm9wZQ')).status, 404);
});

test("chaos over HTTP takes our rule objects and text form, and the server's SMTP follows them", async (t) => {
  const server = await startHttp(t);
  const mail = await connect(server.httpUrl!);
  t.after(() => mail.close());
  const bounce = await mail.chaos.add({ on: 'rcpt', to: /^bounce@/, reply: { code: 550, text: '5.1.1 no such user' } });
  const later = await mail.chaos.add('data times=1 reply=451 4.3.0 try again');
  assert.deepEqual(
    (await mail.chaos.list()).map((entry) => [entry.id, entry.text, entry.remaining]),
    [
      [bounce, 'rcpt to=/^bounce@/ reply=550 5.1.1 no such user', undefined],
      [later, 'data times=1 reply=451 4.3.0 try again', 1],
    ],
  );
  assert.deepEqual(
    server.chaos.list().map((entry) => entry.id),
    [bounce, later],
  );
  await assert.rejects(send(server, { to: 'bounce@example.test' }), /550 5\.1\.1 no such user/);
  await assert.rejects(send(server, { to: 'ann@example.test' }), /451 4\.3\.0 try again/);
  assert.equal((await mail.chaos.list())[1].remaining, 0);
  assert.equal(await mail.chaos.remove(bounce), true);
  assert.equal(await mail.chaos.remove(bounce), false);
  await mail.chaos.clear();
  assert.deepEqual(await mail.chaos.list(), []);
  await send(server, { to: 'bounce@example.test' });
});

test('a bad chaos rule over HTTP is the ChaosRuleError the in-process one would be', async (t) => {
  const server = await startHttp(t);
  const mail = await connect(server.httpUrl!);
  t.after(() => mail.close());
  const inProcess = (() => {
    try {
      parseChaosRule('rcpt explode');
    } catch (error) {
      return error as ChaosRuleError;
    }
  })();
  await assert.rejects(
    mail.chaos.add('rcpt explode'),
    (error: unknown) => error instanceof ChaosRuleError && error.message === inProcess?.message,
  );
  await assert.rejects(mail.chaos.add({ on: 'helo', to: 'x@y' }), ChaosRuleError);
  assert.deepEqual(server.chaos.list(), []);
});

test('connect() with basic auth: refused without the password, accepted with it in the options or the URL', async (t) => {
  const server = await startHttp(t, { httpAuth: [{ username: 'ann', password: 's3:cret' }] });
  await assert.rejects(
    connect(server.httpUrl!),
    (error: unknown) => error instanceof MailServerRequestError && error.code === 'TMS_UNAUTHORIZED',
  );
  const withOptions = await connect(server.httpUrl!, { auth: { username: 'ann', password: 's3:cret' } });
  const withUrl = await connect(server.httpUrl!.replace('http://', 'http://ann:s3%3Acret@'));
  t.after(() => Promise.all([withOptions.close(), withUrl.close()]));
  const waiting = withUrl.waitForMessage({ to: 'ann@example.test' });
  await send(server, { to: 'ann@example.test', subject: 'Through auth' });
  assert.equal((await waiting).subject, 'Through auth');
  assert.equal(withUrl.url, server.httpUrl);
  assert.deepEqual(
    (await withOptions.messages()).map((m: ParsedMessage) => m.subject),
    ['Through auth'],
  );
});

test('connect() to a port where nothing listens fails at once, naming the address', async () => {
  const port = await freePort();
  await assert.rejects(
    connect(`http://127.0.0.1:${port}/`),
    (error: unknown) =>
      error instanceof MailServerRequestError &&
      error.code === 'TMS_UNREACHABLE' &&
      error.message === `Cannot reach the mail server at http://127.0.0.1:${port}: ECONNREFUSED`,
  );
  await assert.rejects(connect('smtp://127.0.0.1:25'), /must be http:\/\/ or https:\/\//);
});
