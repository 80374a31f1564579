/**
 * Releasing stored messages to a real SMTP server: a second instance of our own server plays the
 * relay, and what it stores is compared with what the first one holds. Driven by the real
 * clients: `mailpit-api`'s releaseMessage and the `mailhog` client's releaseMessage.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import mailhog from 'mailhog';
import { MailpitClient } from 'mailpit-api';
import type { TestMailServerOptions } from '../../src/index.js';
import { freePort, startServer } from '../helpers.js';
import { api, apiJson, folderOf, send, startHttp } from './support.js';

/** A relay (our second server, SMTP only) and a server releasing to it. */
async function withRelay(t: TestContext, options: TestMailServerOptions = {}) {
  const relay = await startServer();
  t.after(() => relay.close());
  const server = await startHttp(t, { smtpRelay: relay.smtpUrl, ...options });
  return { relay, server };
}

/** The file's header fields until the first that is not one of our trace lines, and the rest. */
function splitTrace(file: Buffer): { trace: string[]; rest: string } {
  const text = file.toString('latin1');
  const fields = [...text.matchAll(/^([A-Za-z-]+):.*\r\n(?:[ \t].*\r\n)*/gm)];
  const trace: string[] = [];
  let end = 0;
  for (const field of fields) {
    if (field.index !== end || !/^(Return-Path|Delivered-To|Received)$/.test(field[1])) break;
    trace.push(field[1]);
    end += field[0].length;
  }
  return { trace, rest: text.slice(end) };
}

test('mailpit-api releases a message to the relay: it arrives as it came in, plus our Received line', async (t) => {
  const { relay, server } = await withRelay(t);
  const id = await send(server, {
    to: 'ann@example.test',
    subject: 'Release me',
    text: '.a line that starts with a dot\nand 8-bit: caf\u00e9',
  });
  const arrived = relay.waitForMessage({ mailbox: 'carl@example.test' });
  assert.equal(await new MailpitClient(server.httpUrl!).releaseMessage(id, { To: ['carl@example.test'] }), 'ok');
  const message = await arrived;
  assert.deepEqual(message.envelope, { from: 'app@example.test', to: ['carl@example.test'] });
  const original = splitTrace(readFileSync(path.join(folderOf(server, 'ann@example.test'), '1')));
  const released = splitTrace(readFileSync(path.join(folderOf(relay, 'carl@example.test'), '1')));
  assert.deepEqual(original.trace, ['Return-Path', 'Delivered-To', 'Received']);
  // The relay's own three, then ours: the Return-Path and Delivered-To of our delivery were not passed on.
  assert.deepEqual(released.trace, ['Return-Path', 'Delivered-To', 'Received', 'Received']);
  assert.equal(released.rest, original.rest);
  assert.match(message.text ?? '', /^\.a line that starts with a dot\nand 8-bit: café$/);
});

test('the mailhog client releases to its Email through the configured relay, whatever Host and Port it names', async (t) => {
  const { relay, server } = await withRelay(t);
  const id = await send(server, { to: 'ann@example.test', subject: 'Via MailHog' });
  const arrived = relay.waitForMessage({ mailbox: 'dave@example.test' });
  await mailhog({ host: '127.0.0.1', port: server.httpPort }).releaseMessage(id, {
    host: 'mail.elsewhere.test',
    port: '25',
    email: 'dave@example.test',
  });
  assert.equal((await arrived).subject, 'Via MailHog');
});

test('a recipient the allow-list does not let through is refused, and nothing is sent', async (t) => {
  const { relay, server } = await withRelay(t, { smtpRelayAllow: ['*@example.test', '/^ops@corp\\.test$/i'] });
  const id = await send(server, { to: 'ann@example.test', subject: 'x' });
  const refused = await apiJson(server, 'POST', `/api/v1/message/${id}/release`, {
    To: ['ops@corp.test', 'boss@elsewhere.test'],
  });
  assert.deepEqual(
    [refused.status, await refused.json()],
    [400, { Error: 'boss@elsewhere.test is not an allowed recipient of the relay', code: 'TMS_RECIPIENT_NOT_ALLOWED' }],
  );
  assert.deepEqual(relay.store.mailboxes(), []);
  const allowed = await apiJson(server, 'POST', `/api/v1/message/${id}/release`, { To: ['OPS@corp.test'] });
  assert.equal(allowed.status, 200);
  assert.deepEqual(relay.store.mailboxes(), ['OPS@corp.test']);
});

test('without a relay, releasing is refused with a clear error', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, { to: 'ann@example.test', subject: 'x' });
  await assert.rejects(
    new MailpitClient(server.httpUrl!).releaseMessage(id, { To: ['carl@example.test'] }),
    /Releasing is not enabled: the server has no SMTP relay configured/,
  );
  const webui = (await (await api(server, '/api/v1/webui')).json()) as { MessageRelay: { Enabled: boolean } };
  assert.equal(webui.MessageRelay.Enabled, false);
});

test('a relay that refuses the recipient, or is not there, is a 502 naming it, and logged', async (t) => {
  const log: string[] = [];
  const logWriter = (line: string) => void log.push(line);
  const { relay, server } = await withRelay(t, { logWriter });
  const id = await send(server, { to: 'ann@example.test', subject: 'x' });
  relay.chaos.add({ on: 'rcpt', reply: { code: 550, text: '5.1.1 no such user' } });
  const refused = await apiJson(server, 'POST', `/api/v1/message/${id}/release`, { To: ['carl@example.test'] });
  assert.deepEqual(
    [refused.status, await refused.json()],
    [
      502,
      {
        Error: `The relay 127.0.0.1:${relay.smtpPort} failed: it refused RCPT TO:<carl@example.test>: 550 5.1.1 no such user`,
        code: 'TMS_RELAY_FAILED',
      },
    ],
  );
  const nowhere = await startHttp(t, { smtpRelay: `smtp://127.0.0.1:${await freePort()}`, logWriter });
  const other = await send(nowhere, { to: 'ann@example.test', subject: 'x' });
  const down = await apiJson(nowhere, 'POST', `/api/v1/message/${other}/release`, { To: ['carl@example.test'] });
  assert.equal(down.status, 502);
  assert.match(
    ((await down.json()) as { Error: string }).Error,
    /cannot connect to 127\.0\.0\.1:\d+: connection refused/,
  );
  assert.deepEqual(
    log.map((line) =>
      /ERROR HTTP POST \/api\/v1\/message\/(\w+)\/release: .*(refused RCPT|connection refused)/.exec(line)?.slice(1),
    ),
    [
      [id, 'refused RCPT'],
      [other, 'connection refused'],
    ],
  );
});

test('an unknown ID is a 404; the relay setting shows in the web UI settings', async (t) => {
  const { relay, server } = await withRelay(t, { smtpRelayAllow: ['*@example.test'] });
  const missing = await apiJson(server, 'POST', '/api/v1/message/NOPE/release', { To: ['carl@example.test'] });
  assert.equal(missing.status, 404);
  const webui = (await (await api(server, '/api/v1/webui')).json()) as { MessageRelay: Record<string, unknown> };
  assert.deepEqual(
    [webui.MessageRelay.Enabled, webui.MessageRelay.SMTPServer, webui.MessageRelay.AllowedRecipients],
    [true, `127.0.0.1:${relay.smtpPort}`, '*@example.test'],
  );
});
