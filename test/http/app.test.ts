/**
 * The HTTP API of a real server (startTestMailServer with httpPort 0): mail comes in by SMTP
 * (nodemailer, Python smtplib), requests go out with fetch, and results are checked against the
 * files in MAIL_DIR and what Python's mailbox.MH reads there.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { test } from 'node:test';
import { python, tempDir } from '../helpers.js';
import { api, apiJson, folderOf, readWithPython, send, sendWithPython, startHttp } from './support.js';

interface Summary {
  ID: string;
  Subject: string;
  Read: boolean;
  Tags: string[];
}
interface List {
  total: number;
  unread: number;
  count: number;
  messages_count: number;
  messages_unread: number;
  start: number;
  tags: string[];
  messages: Summary[];
}

const json = async <T>(response: Response | Promise<Response>): Promise<T> => (await response).json() as Promise<T>;

test('GET /api/v1/messages lists one item per SMTP transaction, newest first, count = items returned', async (t) => {
  const server = await startHttp(t);
  await send(server, { to: 'ann@example.test, bob@example.test', subject: 'First' });
  await send(server, { to: 'carl@example.test', subject: 'Second' });
  const body = await json<List>(api(server, '/api/v1/messages?limit=1'));
  assert.deepEqual(
    { ...body, messages: body.messages.map((m) => m.Subject) },
    { total: 2, unread: 2, count: 1, messages_count: 2, messages_unread: 2, start: 0, tags: [], messages: ['Second'] },
  );
  const all = await json<List>(api(server, '/api/v1/messages?limit=0'));
  assert.deepEqual(
    all.messages.map((m) => m.Subject),
    ['Second', 'First'],
  );
});

test("an item's ID is the transaction id of the 250 reply, for nodemailer and Python's smtplib alike", async (t) => {
  const server = await startHttp(t);
  const fromNode = await send(server, { to: 'ann@example.test', subject: 'node' });
  const fromPython = await sendWithPython(
    server,
    'msg = EmailMessage()\nmsg["From"] = "py@example.test"\nmsg["To"] = "ann@example.test"\nmsg["Subject"] = "python"\nmsg.set_content("hi")',
  );
  const list = await json<List>(api(server, '/api/v1/messages'));
  assert.deepEqual(
    list.messages.map((m) => [m.ID, m.Subject]),
    [
      [fromPython, 'python'],
      [fromNode, 'node'],
    ],
  );
});

test('a search counts its matches in messages_count and messages_unread; total stays the whole store', async (t) => {
  const server = await startHttp(t);
  await send(server, { to: 'ann@example.test', subject: 'Order' });
  await send(server, { to: 'bob@example.test', subject: 'Other' });
  const body = await json<List>(api(server, '/api/v1/search?query=subject:order'));
  assert.deepEqual([body.total, body.count, body.messages_count, body.messages_unread], [2, 1, 1, 1]);
  const empty = await api(server, '/api/v1/search?query=');
  assert.equal(empty.status, 400);
  assert.deepEqual(await empty.json(), { Error: 'Error: no search query', code: 'TMS_BAD_REQUEST' });
});

test('GET /api/v1/message/{ID} marks every copy read: the unseen sequence of each mailbox loses it', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, { to: 'ann@example.test, bob@example.test', subject: 'Old', text: 'hello' });
  await send(server, { to: 'ann@example.test', subject: 'New' });
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).sequences, { unseen: [1, 2] });
  const message = await json<{ Subject: string; Text: string }>(api(server, `/api/v1/message/${id}`));
  assert.deepEqual([message.Subject, message.Text], ['Old', 'hello']);
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).sequences, { unseen: [2] });
  assert.deepEqual((await readWithPython(server, 'bob@example.test')).sequences, {});
});

test('latest names the newest item, and latest?query= the newest that matches; no match is a 404', async (t) => {
  const server = await startHttp(t);
  await send(server, { to: 'ann@example.test', subject: 'Old' });
  await send(server, { to: 'carl@example.test', subject: 'New' });
  assert.equal((await json<Summary>(api(server, '/api/v1/message/latest'))).Subject, 'New');
  assert.equal((await json<Summary>(api(server, '/api/v1/message/latest?query=old'))).Subject, 'Old');
  const none = await api(server, '/api/v1/message/latest?query=nothing-matches');
  assert.deepEqual([none.status, await none.json()], [404, { Error: 'Message not found', code: 'TMS_NOT_FOUND' }]);
});

/** A request with its path sent as written: fetch would resolve `..` segments before they reach the server. */
function rawRequest(
  port: number,
  method: string,
  route: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // With a User-Agent, as Mailpit's clients send one (without, DELETE answers as MailHog: empty).
    const headers = { 'user-agent': 'test' };
    const request = http.request({ host: '127.0.0.1', port, method, path: route, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, text }));
    });
    request.on('error', reject);
    if (body !== undefined) {
      request.setHeader('content-type', 'application/json');
      // Node frames no DELETE body by itself.
      request.setHeader('content-length', Buffer.byteLength(body));
    }
    request.end(body);
  });
}

test('hostile IDs get 404 or 400 in the JSON error shape, and never reach a folder outside MAIL_DIR', async (t) => {
  const root = await tempDir();
  // An MH folder beside MAIL_DIR, where a decoded ../ would lead: it must stay as it is.
  const outside = path.join(root, 'secret', 'box');
  mkdirSync(outside, { recursive: true });
  writeFileSync(path.join(outside, '1'), 'Subject: SECRET\n\nSECRET\n');
  writeFileSync(path.join(outside, '.mh_sequences'), 'unseen: 1\n');
  const server = await startHttp(t, { mailDir: path.join(root, 'mail') });
  await send(server, { to: 'ann@example.test', subject: 'x' });
  const encode = (parts: unknown) => `c_${Buffer.from(JSON.stringify(parts)).toString('base64url')}`;
  const ids = [
    '../../secret/box/1',
    '..%2F..%2Fsecret%2Fbox%2F1',
    '%2e%2e%2f%2e%2e%2fsecret',
    '..',
    'a%00b',
    'A'.repeat(10_000),
    encode(['box@../secret', 'INBOX', 1]),
    encode(['ann@example.test', '../../../secret/box', 1]),
    encode(['../secret/box@example.test', 'INBOX', 1]),
    '%E0%A4%A',
  ];
  const port = server.httpPort!;
  for (const id of ids) {
    const answers = [
      ...[
        `/api/v1/message/${id}`,
        `/api/v1/message/${id}/headers`,
        `/api/v1/message/${id}/raw`,
        `/api/v1/message/${id}/part/1`,
        `/view/${id}.html`,
        `/api/v1/messages/${id}`,
        `/api/v1/messages/${id}/download`,
        `/api/tms/messages/${id}`,
        `/api/tms/messages/${id}/raw`,
      ].map((route) => rawRequest(port, 'GET', route)),
      rawRequest(port, 'DELETE', `/api/v1/messages/${id}`),
    ];
    for (const { status, text } of await Promise.all(answers)) {
      assert.ok([400, 404].includes(status), `${id.slice(0, 40)}: ${status}`);
      assert.match((JSON.parse(text) as { code: string }).code, /^TMS_/);
      assert.doesNotMatch(text, /SECRET/);
    }
  }
  const decoded = ids.map((id) => decodeURIComponent(id.replace('%E0%A4%A', '')));
  for (const [method, route, body] of [
    ['PUT', '/api/v1/messages', { IDs: decoded, Read: true }],
    ['PUT', '/api/v1/tags', { IDs: decoded, Tags: ['Pwned'] }],
    ['DELETE', '/api/v1/messages', { IDs: decoded }],
  ] as const)
    assert.equal((await rawRequest(port, method, route, JSON.stringify(body))).text, 'ok', `${method} ${route}`);
  assert.equal(readFileSync(path.join(outside, '1'), 'utf8'), 'Subject: SECRET\n\nSECRET\n');
  assert.equal(readFileSync(path.join(outside, '.mh_sequences'), 'utf8'), 'unseen: 1\n');
  assert.deepEqual(readdirSync(outside).sort(), ['.mh_sequences', '1']);
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).keys, [1], 'the real message is still there');
});

test('raw is the stored file byte for byte (8-bit and bare LF kept), and dl=1 makes it a download', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, {
    to: 'ann@example.test',
    raw: Buffer.from('From: a@example.test\r\nTo: ann@example.test\r\nSubject: caf\xe9\r\n\r\nbody\r\n', 'latin1'),
  });
  const response = await api(server, `/api/v1/message/${id}/raw?dl=1`);
  assert.deepEqual(
    Buffer.from(await response.arrayBuffer()),
    readFileSync(path.join(folderOf(server, 'ann@example.test'), '1')),
  );
  assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(response.headers.get('content-disposition'), `attachment; filename="${id}.eml"`);
});

test('a doubled slash works, as cypress-mailpit asks for //view/{ID}.html; the view blocks scripts', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, { to: 'ann@example.test', subject: 'x', html: '<p>Hi</p>' });
  const response = await fetch(`${server.httpUrl}//view/${id}.html`);
  assert.equal(response.status, 200);
  assert.equal((await response.text()).trim(), '<p>Hi</p>');
  assert.match(String(response.headers.get('content-security-policy')), /default-src 'none'/);
  assert.equal((await fetch(`${server.httpUrl}//view/${id}.txt`)).status, 404, 'no text part');
});

test('PUT /api/v1/messages marks by IDs, by search or all, in .mh_sequences, with JSON keys in any case', async (t) => {
  const server = await startHttp(t);
  const a = await send(server, { to: 'ann@example.test', subject: 'A' });
  const b = await send(server, { to: 'bob@example.test', subject: 'B' });
  const unseen = async () => [
    (await readWithPython(server, 'ann@example.test')).sequences.unseen ?? [],
    (await readWithPython(server, 'bob@example.test')).sequences.unseen ?? [],
  ];
  assert.equal(await (await apiJson(server, 'PUT', '/api/v1/messages', { ids: [a], READ: true })).text(), 'ok');
  assert.deepEqual(await unseen(), [[], [1]]);
  await apiJson(server, 'PUT', '/api/v1/messages', { Search: 'subject:B', Read: true });
  assert.deepEqual(await unseen(), [[], []]);
  await apiJson(server, 'PUT', '/api/v1/messages', { Read: false });
  assert.deepEqual(await unseen(), [[1], [1]]);
  const both = await apiJson(server, 'PUT', '/api/v1/messages', { IDs: [b], Search: 'x', Read: true });
  assert.equal(both.status, 400);
});

test('DELETE /api/v1/messages with IDs removes every copy of those items from disk, and without a body all', async (t) => {
  const server = await startHttp(t);
  const a = await send(server, { to: 'ann@example.test, bob@example.test', subject: 'A' });
  await send(server, { to: 'carl@example.test', subject: 'B' });
  const file = (mailbox: string) => path.join(folderOf(server, mailbox), '1');
  const byId = await apiJson(server, 'DELETE', '/api/v1/messages', { IDs: [a] });
  assert.equal(await byId.text(), 'ok');
  assert.deepEqual(
    ['ann@example.test', 'bob@example.test', 'carl@example.test'].map((m) => existsSync(file(m))),
    [false, false, true],
  );
  assert.equal(await (await api(server, '/api/v1/messages', { method: 'DELETE' })).text(), 'ok');
  assert.equal(existsSync(file('carl@example.test')), false);
  assert.deepEqual((await readWithPython(server, 'carl@example.test')).keys, []);
});

test('DELETE /api/v1/search deletes what the query matches, and only that', async (t) => {
  const server = await startHttp(t);
  await send(server, { to: 'ann@example.test', subject: 'Spam' });
  await send(server, { to: 'ann@example.test', subject: 'Ham' });
  assert.equal(await (await api(server, '/api/v1/search?query=subject:spam', { method: 'DELETE' })).text(), 'ok');
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).keys, [2]);
});

test('tags are keywords are MH sequences: set on every copy, listed, searched, renamed and deleted', async (t) => {
  const server = await startHttp(t);
  const a = await send(server, { to: 'ann@example.test, bob@example.test', subject: 'A' });
  assert.equal(
    await (await apiJson(server, 'PUT', '/api/v1/tags', { IDs: [a], Tags: ['Work', 'urgent'] })).text(),
    'ok',
  );
  for (const mailbox of ['ann@example.test', 'bob@example.test'])
    assert.deepEqual((await readWithPython(server, mailbox)).sequences, { unseen: [1], Work: [1], urgent: [1] });
  assert.deepEqual(await json(api(server, '/api/v1/tags')), ['urgent', 'Work']);
  assert.equal((await json<List>(api(server, '/api/v1/search?query=tag:work'))).count, 1);
  await apiJson(server, 'PUT', '/api/v1/tags/Work', { name: 'Home' });
  assert.deepEqual(await json(api(server, '/api/v1/tags')), ['Home', 'urgent']);
  await api(server, '/api/v1/tags/urgent', { method: 'DELETE' });
  assert.deepEqual((await readWithPython(server, 'bob@example.test')).sequences, { unseen: [1], Home: [1] });
  const bad = await apiJson(server, 'PUT', '/api/v1/tags', { IDs: [a], Tags: ['two words'] });
  assert.deepEqual([bad.status, ((await bad.json()) as { code: string }).code], [400, 'TMS_FLAG_NAME']);
});

test('a tag set with Python mailbox.MH as a sequence is a tag of the item', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, { to: 'ann@example.test', subject: 'A' });
  await python(
    'import mailbox, sys\nbox = mailbox.MH(sys.argv[1], create=False)\nbox.lock()\nseq = box.get_sequences()\nseq["Orders"] = [1]\nbox.set_sequences(seq)\nbox.unlock()',
    [folderOf(server, 'ann@example.test')],
  );
  await server.store.refresh();
  assert.deepEqual((await json<Summary>(api(server, `/api/v1/message/${id}`))).Tags, ['Orders']);
});

test('POST /api/v1/send stores one transaction for every recipient, with an HTTP trace, tagged', async (t) => {
  const server = await startHttp(t);
  const response = await apiJson(server, 'POST', '/api/v1/send', {
    From: { Email: 'app@example.test', Name: 'App' },
    To: [{ Email: 'ann@example.test' }],
    Bcc: ['boss@example.test'],
    Subject: 'Report',
    Text: 'See attached',
    Tags: ['reports'],
    Attachments: [{ Content: 'data:text/plain;base64,aGVsbG8=', FileName: 'hello.txt' }],
  });
  assert.equal(response.status, 200);
  const { ID } = (await response.json()) as { ID: string };
  const [ann, boss] = ['ann@example.test', 'boss@example.test'].map((m) =>
    readFileSync(path.join(folderOf(server, m), '1'), 'latin1'),
  );
  assert.match(ann, new RegExp(`^Return-Path: <app@example\\.test>\\r\\nDelivered-To: ann@example\\.test\\r\\n`));
  assert.match(ann, new RegExp(`with HTTP id ${ID}\\r\\n`));
  assert.match(boss, /^Delivered-To: boss@example\.test$/m);
  assert.doesNotMatch(ann, /^Bcc:/m);
  assert.deepEqual((await readWithPython(server, 'boss@example.test')).sequences, { unseen: [1], reports: [1] });
  const message = await json<Record<string, unknown>>(api(server, `/api/v1/message/${ID}`));
  assert.deepEqual(
    [message.Subject, message.Text, message.Tags, message.Bcc],
    ['Report', 'See attached', ['reports'], [{ Name: '', Address: 'boss@example.test' }]],
  );
  assert.deepEqual(
    (message.Attachments as Array<{ FileName: string }>).map((a) => a.FileName),
    ['hello.txt'],
  );
  const waited = await server.waitForMessage({ mailbox: 'ann@example.test' });
  assert.deepEqual(waited.envelope, { from: 'app@example.test', to: ['ann@example.test', 'boss@example.test'] });
});

test('POST /api/v1/send refuses a bad address, an unsafe recipient and a header it builds, storing nothing', async (t) => {
  const server = await startHttp(t);
  const sendJson = (body: object) => apiJson(server, 'POST', '/api/v1/send', body);
  const bad = await sendJson({ From: { Email: 'app@example.test' }, To: [{ Email: 'not an address' }] });
  assert.deepEqual(
    [bad.status, await bad.json()],
    [400, { Error: 'invalid To address: not an address', code: 'TMS_BAD_REQUEST' }],
  );
  const unsafe = await sendJson({ From: { Email: 'a@example.test' }, To: [{ Email: '..@example.test' }] });
  assert.equal(unsafe.status, 400);
  assert.match(((await unsafe.json()) as { Error: string }).Error, /^invalid recipient \.\.@example\.test: /);
  const header = await sendJson({
    From: { Email: 'a@example.test' },
    To: [{ Email: 'b@example.test' }],
    Headers: { Subject: 'x' },
  });
  assert.equal(((await header.json()) as { Error: string }).Error, 'cannot overwrite header: "Subject"');
  assert.deepEqual(server.store.mailboxes(), []);
});

test('request bodies are bounded: 5 MB for the JSON API, the message size limit for send', async (t) => {
  const server = await startHttp(t, { maxMessageSize: 1000 });
  const big = await api(server, '/api/v1/messages', {
    method: 'PUT',
    body: JSON.stringify({ IDs: ['x'.repeat(5 * 1024 * 1024)] }),
    headers: { 'content-type': 'application/json' },
  });
  assert.deepEqual([big.status, ((await big.json()) as { code: string }).code], [413, 'TMS_TOO_LARGE']);
  const sent = await apiJson(server, 'POST', '/api/v1/send', {
    From: { Email: 'a@example.test' },
    To: [{ Email: 'b@example.test' }],
    Text: 'x'.repeat(2000),
  });
  assert.equal(sent.status, 413);
  assert.deepEqual(server.store.mailboxes(), []);
});

test('a body that is not JSON gets a clear 400', async (t) => {
  const server = await startHttp(t);
  const response = await api(server, '/api/v1/messages', {
    method: 'PUT',
    body: '{nope',
    headers: { 'content-type': 'application/json' },
  });
  assert.deepEqual(await response.json(), { Error: 'The request body is not valid JSON', code: 'TMS_BAD_REQUEST' });
});

test('basic auth guards every route but the health probes; any configured user may pass', async (t) => {
  const server = await startHttp(t, {
    httpAuth: [
      { username: 'ann', password: 's3cret' },
      { username: 'bob', password: 'hunter2' },
    ],
  });
  const as = (credentials: string) => ({
    headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
  });
  const denied = await api(server, '/api/v1/messages');
  assert.equal(denied.status, 401);
  assert.match(String(denied.headers.get('www-authenticate')), /^Basic /);
  assert.equal((await api(server, '/api/v1/messages', as('ann:nope'))).status, 401);
  assert.equal((await api(server, '/api/v1/messages', as('ann:s3cret'))).status, 200);
  assert.equal((await api(server, '/api/v1/messages', as('bob:hunter2'))).status, 200);
  assert.equal((await api(server, '/livez')).status, 200);
  assert.equal((await api(server, '/readyz')).status, 200);
});

test('CORS is off by default and allows the one configured origin', async (t) => {
  const plain = await startHttp(t);
  const closed = await api(plain, '/api/v1/messages', { headers: { origin: plain.httpUrl! } });
  assert.equal(closed.headers.get('access-control-allow-origin'), null);
  const open = await startHttp(t, { corsOrigin: 'https://app.test' });
  const preflight = await api(open, '/api/v1/messages', {
    method: 'OPTIONS',
    headers: { origin: 'https://app.test', 'access-control-request-method': 'DELETE' },
  });
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.test');
  const allowed = await api(open, '/api/v1/messages', { headers: { origin: 'https://app.test' } });
  assert.equal(allowed.status, 200);
});

test('a request from another site is refused with 403, a same-host one passes', async (t) => {
  const server = await startHttp(t);
  const evil = await api(server, '/api/v1/messages', { headers: { origin: 'https://evil.test' } });
  assert.deepEqual([evil.status, ((await evil.json()) as { code: string }).code], [403, 'TMS_ORIGIN']);
  const same = await api(server, '/api/v1/messages', { headers: { origin: server.httpUrl! } });
  assert.equal(same.status, 200);
});

test("Mailpit's chaos triggers become our chaos rules, and the SMTP server follows them", async (t) => {
  const server = await startHttp(t);
  const set = await apiJson(server, 'PUT', '/api/v1/chaos', { recipient: { errorcode: 452, probability: 100 } });
  assert.deepEqual(await set.json(), {
    Sender: { ErrorCode: 451, Probability: 0 },
    Recipient: { ErrorCode: 452, Probability: 100 },
    Authentication: { ErrorCode: 535, Probability: 0 },
  });
  assert.deepEqual(
    server.chaos.list().map((entry) => entry.text),
    ['rcpt probability=1 reply=452 4.0.0 Chaos: recipient refused'],
  );
  await assert.rejects(send(server, { to: 'ann@example.test', subject: 'x' }), /452 4\.0\.0 Chaos: recipient refused/);
  await apiJson(server, 'PUT', '/api/v1/chaos', {});
  assert.deepEqual(server.chaos.list(), []);
  await send(server, { to: 'ann@example.test', subject: 'x' });
});

test('GET /api/v1/mailboxes lists each address with its folders and counts', async (t) => {
  const server = await startHttp(t);
  await send(server, { to: 'ann@example.test, bob@example.test', subject: 'x' });
  await server.store.createFolder({ mailbox: 'ann@example.test', folder: 'Archive' });
  assert.deepEqual(await json(api(server, '/api/v1/mailboxes')), [
    {
      Address: 'ann@example.test',
      Messages: 1,
      Unread: 1,
      Folders: [
        { Name: 'INBOX', Messages: 1, Unread: 1 },
        { Name: 'Archive', Messages: 0, Unread: 0 },
      ],
    },
    { Address: 'bob@example.test', Messages: 1, Unread: 1, Folders: [{ Name: 'INBOX', Messages: 1, Unread: 1 }] },
  ]);
});

test('success is exactly 200 everywhere a client might check it', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, { to: 'ann@example.test', subject: 'x' });
  for (const [method, route] of [
    ['GET', '/api/v1/info'],
    ['GET', '/api/v1/webui'],
    ['GET', `/api/v1/message/${id}/headers`],
    ['PUT', '/api/v1/messages'],
    ['DELETE', '/api/v1/search?query=nothing'],
  ] as const)
    assert.equal((await api(server, route, { method })).status, 200, `${method} ${route}`);
});

test('a deleted ID is a 404 on every route that takes one, Mailpit, MailHog and ours', async (t) => {
  const server = await startHttp(t);
  const id = await send(server, {
    to: 'ann@example.test',
    subject: 'Gone',
    text: 'text',
    html: '<p>html</p>',
    attachments: [{ filename: 'a.txt', content: 'A' }],
  });
  const [attachment] = (await json<{ Attachments: Array<{ PartID: string }> }>(api(server, `/api/v1/message/${id}`)))
    .Attachments;
  const routes = [
    `/api/v1/message/${id}`,
    `/api/v1/message/${id}/headers`,
    `/api/v1/message/${id}/raw`,
    `/api/v1/message/${id}/part/${attachment.PartID}`,
    `/view/${id}.html`,
    `/view/${id}.txt`,
    `/api/v1/messages/${id}`,
    `/api/v1/messages/${id}/download`,
    `/api/tms/messages/${id}`,
  ];
  for (const route of routes) assert.equal((await api(server, route)).status, 200, route);
  await apiJson(server, 'DELETE', '/api/v1/messages', { IDs: [id] });
  for (const route of routes) {
    const response = await api(server, route);
    assert.deepEqual([response.status, ((await response.json()) as { code: string }).code], [404, 'TMS_NOT_FOUND']);
  }
  assert.equal((await api(server, `/api/v1/messages/${id}`, { method: 'DELETE' })).status, 404, "MailHog's delete");
});

/** One item to ann and bob, one to carl only; `files` tells which of their files are left. */
async function toAnnBobAndCarl(t: Parameters<typeof startHttp>[0]) {
  const server = await startHttp(t);
  const both = await send(server, { to: 'ann@example.test, bob@example.test', subject: 'Both' });
  const carl = await send(server, { to: 'carl@example.test', subject: 'Carl' });
  const mailboxes = ['ann@example.test', 'bob@example.test', 'carl@example.test'];
  const files = () => mailboxes.map((mailbox) => existsSync(path.join(folderOf(server, mailbox), '1')));
  const unseen = async () =>
    Promise.all(mailboxes.map(async (mailbox) => (await readWithPython(server, mailbox)).sequences.unseen ?? []));
  return { server, both, carl, files, unseen };
}

test('mailbox: in DELETE /api/v1/search deletes the items with a copy there, every copy of them', async (t) => {
  const { server, files } = await toAnnBobAndCarl(t);
  const response = await api(server, '/api/v1/search?query=mailbox:bob@example.test', { method: 'DELETE' });
  assert.equal(await response.text(), 'ok');
  assert.deepEqual(files(), [false, false, true]);
});

test("mailbox: in PUT /api/v1/messages' Search marks the items with a copy there read, every copy", async (t) => {
  const { server, unseen } = await toAnnBobAndCarl(t);
  await apiJson(server, 'PUT', '/api/v1/messages', { Search: 'mailbox:ann@example.test', Read: true });
  assert.deepEqual(await unseen(), [[], [], [1]]);
});

test('mailbox: in latest?query= names the newest item with a copy in that mailbox', async (t) => {
  const { server, both } = await toAnnBobAndCarl(t);
  const query = encodeURIComponent('mailbox:bob@example.test');
  assert.equal((await json<Summary>(api(server, `/api/v1/message/latest?query=${query}`))).ID, both);
  // The item's raw bytes are its first copy's, ann's.
  assert.equal(
    await (await api(server, `/api/v1/message/latest/raw?query=${query}`)).text(),
    readFileSync(path.join(folderOf(server, 'ann@example.test'), '1'), 'utf8'),
  );
  assert.equal((await api(server, `/api/v1/message/latest?query=mailbox:nobody@example.test`)).status, 404);
});

test('a message dropped into a folder with Python mailbox.MH is an item of its own, read and deleted alone', async (t) => {
  const server = await startHttp(t);
  const smtp = await send(server, { to: 'ann@example.test', subject: 'By SMTP' });
  await python(
    'import mailbox, sys\nbox = mailbox.MH(sys.argv[1], create=False)\nbox.lock()\n' +
      'box.add(b"From: py@example.test\\nTo: ann@example.test\\nSubject: Dropped\\n\\nhello\\n")\nbox.unlock()',
    [folderOf(server, 'ann@example.test')],
  );
  await server.store.refresh();
  const list = await json<List>(api(server, '/api/v1/messages'));
  assert.deepEqual(
    list.messages.map((m) => m.Subject),
    ['Dropped', 'By SMTP'],
  );
  const dropped = list.messages[0].ID;
  assert.match(dropped, /^c_[A-Za-z0-9_-]+$/);
  assert.notEqual(dropped, smtp);
  assert.equal((await json<{ Text: string }>(api(server, `/api/v1/message/${dropped}`))).Text, 'hello');
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).sequences, { unseen: [1] });
  await apiJson(server, 'DELETE', '/api/v1/messages', { IDs: [dropped] });
  assert.deepEqual((await readWithPython(server, 'ann@example.test')).keys, [1]);
});

test('start and limit page the list and a search, newest first; the default limit is 50', async (t) => {
  const server = await startHttp(t);
  const subjects = Array.from({ length: 52 }, (_, i) => `m${i}`);
  await python(
    'import smtplib, sys\nwith smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as smtp:\n' +
      '    for subject in sys.argv[2:]:\n' +
      '        smtp.sendmail("a@example.test", ["ann@example.test"], f"Subject: {subject}\\r\\n\\r\\nbody\\r\\n")',
    [String(server.smtpPort), ...subjects],
  );
  const page = await json<List>(api(server, '/api/v1/messages?start=1&limit=2'));
  assert.deepEqual(
    [page.start, page.count, page.total, page.messages.map((m) => m.Subject)],
    [1, 2, 52, ['m50', 'm49']],
  );
  const all = await json<List>(api(server, '/api/v1/messages'));
  assert.deepEqual([all.count, all.messages.at(-1)?.Subject], [50, 'm2']);
  const found = await json<List>(api(server, '/api/v1/search?query=body&start=50'));
  assert.deepEqual(
    [found.start, found.count, found.messages_count, found.messages.map((m) => m.Subject)],
    [50, 2, 52, ['m1', 'm0']],
  );
});

test("Mailpit's Sender trigger refuses MAIL FROM with its code; GET reads back what PUT set", async (t) => {
  const server = await startHttp(t);
  await apiJson(server, 'PUT', '/api/v1/chaos', { Sender: { ErrorCode: 421, Probability: 100 } });
  assert.deepEqual(await json(api(server, '/api/v1/chaos')), {
    Sender: { ErrorCode: 421, Probability: 100 },
    Recipient: { ErrorCode: 451, Probability: 0 },
    Authentication: { ErrorCode: 535, Probability: 0 },
  });
  assert.deepEqual(
    server.chaos.list().map((entry) => entry.text),
    ['mail probability=1 reply=421 4.0.0 Chaos: sender refused'],
  );
  await assert.rejects(send(server, { to: 'ann@example.test', subject: 'x' }), /421 4\.0\.0 Chaos: sender refused/);
  assert.deepEqual(server.store.mailboxes(), []);
});

test("Mailpit's Authentication trigger cannot be switched on (any login is accepted) and changes nothing", async (t) => {
  const server = await startHttp(t);
  const refused = await apiJson(server, 'PUT', '/api/v1/chaos', { Authentication: { Probability: 50 } });
  assert.deepEqual([refused.status, ((await refused.json()) as { code: string }).code], [400, 'TMS_BAD_REQUEST']);
  const bad = await apiJson(server, 'PUT', '/api/v1/chaos', { Recipient: { ErrorCode: 250, Probability: 100 } });
  assert.equal(bad.status, 400, 'not an error code');
  assert.deepEqual(server.chaos.list(), []);
  await send(server, { to: 'ann@example.test', subject: 'x' });
});

test('without the password every route of every API is a 401 and changes nothing', async (t) => {
  const server = await startHttp(t, { httpAuth: [{ username: 'ann', password: 's3cret' }] });
  const id = await send(server, { to: 'ann@example.test', subject: 'x', html: '<p>x</p>' });
  for (const [method, route] of [
    ['GET', '/api/v1/messages'],
    ['GET', `/api/v1/message/${id}`],
    ['GET', `/api/v1/message/${id}/raw`],
    ['GET', `/view/${id}.html`],
    ['GET', '/api/v1/info'],
    ['GET', '/api/v1/openapi.json'],
    ['GET', '/api/v2/messages'],
    ['GET', `/api/v1/messages/${id}/download`],
    ['GET', '/api/v1/mailboxes'],
    ['GET', '/api/tms/messages'],
    ['PUT', '/api/v1/messages'],
    ['PUT', '/api/v1/chaos'],
    ['POST', '/api/v1/send'],
    ['DELETE', '/api/v1/messages'],
    ['DELETE', `/api/v1/messages/${id}`],
    ['DELETE', '/api/tms/messages'],
  ] as const) {
    const response = await api(server, route, { method });
    assert.deepEqual(
      [response.status, ((await response.json()) as { code: string }).code],
      [401, 'TMS_UNAUTHORIZED'],
      `${method} ${route}`,
    );
  }
  assert.deepEqual(await readWithPython(server, 'ann@example.test'), { keys: [1], sequences: { unseen: [1] } });
  assert.deepEqual(server.chaos.list(), []);
});
