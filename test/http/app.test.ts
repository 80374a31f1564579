/**
 * The HTTP app in memory (Fastify's inject) over the test-only MemoryReader: routes, the
 * quirks Mailpit's and MailHog's clients rely on, auth, CORS and the Origin check.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Chaos } from '../../src/chaos/chaos.js';
import { createHttpServer, type HttpServerOptions } from '../../src/http/server.js';
import { MemoryReader } from './memory-reader.js';

const welcome = (to: string, subject = 'Welcome') =>
  `From: App <app@example.test>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@app>\r\n\r\nHello there\r\n`;

async function start(t: TestContext, options: Partial<HttpServerOptions> = {}) {
  const reader = (options.reader as MemoryReader | undefined) ?? new MemoryReader();
  const app = await createHttpServer({ reader, ...options });
  t.after(() => app.close());
  return { app, reader };
}

test('GET /api/v1/messages lists items newest first with count = items returned', async (t) => {
  const { app, reader } = await start(t);
  await reader.deliver(
    'app@example.test',
    ['ann@example.test', 'bob@example.test'],
    welcome('ann@example.test', 'First'),
  );
  await reader.deliver('app@example.test', ['carl@example.test'], welcome('carl@example.test', 'Second'));
  const body = (await app.inject('/api/v1/messages?limit=1')).json<Record<string, unknown>>();
  assert.deepEqual(
    { ...body, messages: (body.messages as Array<{ Subject: string }>).map((m) => m.Subject) },
    { total: 2, unread: 2, count: 1, messages_count: 2, messages_unread: 2, start: 0, tags: [], messages: ['Second'] },
  );
  const all = (await app.inject('/api/v1/messages?limit=0')).json<{ messages: Array<{ Subject: string }> }>();
  assert.deepEqual(
    all.messages.map((m) => m.Subject),
    ['Second', 'First'],
  );
});

test('a search counts its matches in messages_count and messages_unread, and total stays the whole store', async (t) => {
  const { app, reader } = await start(t);
  await reader.deliver('app@example.test', ['ann@example.test'], welcome('ann@example.test', 'Order'));
  await reader.deliver('app@example.test', ['bob@example.test'], welcome('bob@example.test', 'Other'));
  const body = (await app.inject('/api/v1/search?query=subject:order')).json<Record<string, unknown>>();
  assert.deepEqual([body.total, body.count, body.messages_count, body.messages_unread], [2, 1, 1, 1]);
  const empty = await app.inject('/api/v1/search?query=');
  assert.equal(empty.statusCode, 400);
  assert.deepEqual(empty.json(), { Error: 'Error: no search query', code: 'TMS_BAD_REQUEST' });
});

test('the mailbox: term selects the items with a copy in that mailbox', async (t) => {
  const { app, reader } = await start(t);
  await reader.deliver(
    'app@example.test',
    ['ann@example.test', 'bob@example.test'],
    welcome('ann@example.test', 'Both'),
  );
  await reader.deliver('app@example.test', ['ann@example.test'], welcome('ann@example.test', 'Ann only'));
  const body = (await app.inject('/api/v1/search?query=mailbox:bob@example.test')).json<{
    messages: Array<{ Subject: string }>;
  }>();
  assert.deepEqual(
    body.messages.map((m) => m.Subject),
    ['Both'],
  );
});

test('GET /api/v1/message/{ID} marks every copy read; latest and latest?query= name the newest', async (t) => {
  const { app, reader } = await start(t);
  const [ann] = await reader.deliver(
    'app@example.test',
    ['ann@example.test', 'bob@example.test'],
    welcome('ann@x', 'Old'),
  );
  await reader.deliver('app@example.test', ['carl@example.test'], welcome('carl@x', 'New'));
  const message = (await app.inject(`/api/v1/message/${ann.transaction}`)).json<{ Subject: string }>();
  assert.equal(message.Subject, 'Old');
  assert.deepEqual(
    reader.transaction(ann.transaction!).map((copy) => copy.flags),
    [['\\Seen'], ['\\Seen']],
  );
  assert.equal((await app.inject('/api/v1/message/latest')).json<{ Subject: string }>().Subject, 'New');
  assert.equal((await app.inject('/api/v1/message/latest?query=old')).json<{ Subject: string }>().Subject, 'Old');
  assert.equal((await app.inject('/api/v1/message/latest?query=nothing-matches')).statusCode, 404);
});

test('hostile IDs get 404 (or 400) and the JSON error shape', async (t) => {
  const { app, reader } = await start(t);
  await reader.deliver('app@example.test', ['ann@example.test'], welcome('ann@example.test'));
  for (const id of ['..%2F..', '%2e%2e', '..', 'a%00b', 'A'.repeat(10_000), 'c_Li4vLi4v', '%E0%A4%A']) {
    for (const path of [
      `/api/v1/message/${id}`,
      `/api/v1/message/${id}/raw`,
      `/view/${id}.html`,
      `/api/v1/messages/${id}`,
    ]) {
      const response = await app.inject(path);
      assert.ok([400, 404].includes(response.statusCode), `${path.slice(0, 60)}: ${response.statusCode}`);
      assert.match(response.json<{ code: string }>().code, /^TMS_/);
    }
  }
});

test('raw is the stored bytes exactly, and dl=1 makes it a download', async (t) => {
  const { app, reader } = await start(t);
  const [copy] = await reader.deliver(
    'app@example.test',
    ['ann@example.test'],
    Buffer.from('Subject: caf\xe9\r\n\r\nbody\n', 'latin1'),
  );
  const response = await app.inject(`/api/v1/message/${copy.transaction}/raw?dl=1`);
  assert.deepEqual(response.rawPayload, await reader.read(copy));
  assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(response.headers['content-disposition'], `attachment; filename="${copy.transaction}.eml"`);
});

test('a doubled slash works, as cypress-mailpit asks for //view/{ID}.html', async (t) => {
  const { app, reader } = await start(t);
  const [copy] = await reader.deliver(
    'app@example.test',
    ['ann@example.test'],
    'Content-Type: text/html\r\nSubject: x\r\n\r\n<p>Hi</p>\r\n',
  );
  const response = await app.inject(`//view/${copy.transaction}.html`);
  assert.equal(response.statusCode, 200);
  assert.equal(response.body.trim(), '<p>Hi</p>');
  assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
  assert.equal((await app.inject(`//view/${copy.transaction}.txt`)).statusCode, 404, 'no text part');
});

test('PUT /api/v1/messages marks by IDs, by search or all, reading JSON keys case-insensitively', async (t) => {
  const { app, reader } = await start(t);
  const [a] = await reader.deliver('app@example.test', ['ann@example.test'], welcome('ann@x', 'A'));
  const [b] = await reader.deliver('app@example.test', ['bob@example.test'], welcome('bob@x', 'B'));
  const put = (payload: unknown) => app.inject({ method: 'PUT', url: '/api/v1/messages', payload: payload as object });
  const read = () => reader.allMessages().map((m) => m.flags.includes('\\Seen'));
  assert.equal((await put({ ids: [a.transaction], READ: true })).body, 'ok');
  assert.deepEqual(read(), [true, false]);
  await put({ Search: 'subject:B', Read: true });
  assert.deepEqual(read(), [true, true]);
  await put({ Read: false });
  assert.deepEqual(read(), [false, false]);
  const both = await put({ IDs: [b.transaction], Search: 'x', Read: true });
  assert.equal(both.statusCode, 400);
});

test("DELETE /api/v1/messages reads IDs from its body, deletes all without one, and answers MailHog's client with an empty body", async (t) => {
  const { app, reader } = await start(t);
  const [a] = await reader.deliver('app@example.test', ['ann@example.test', 'bob@example.test'], welcome('ann@x', 'A'));
  await reader.deliver('app@example.test', ['carl@example.test'], welcome('carl@x', 'B'));
  const byId = await app.inject({
    method: 'DELETE',
    url: '/api/v1/messages',
    payload: { IDs: [a.transaction] },
    headers: { accept: '*/*' },
  });
  assert.equal(byId.body, 'ok');
  assert.deepEqual(
    reader.allMessages().map((m) => m.mailbox),
    ['carl@example.test'],
  );
  const all = await app.inject({ method: 'DELETE', url: '/api/v1/messages', headers: { 'user-agent': 'x' } });
  assert.equal(all.body, 'ok');
  assert.deepEqual(reader.allMessages(), []);
  await reader.deliver('app@example.test', ['carl@example.test'], welcome('carl@x', 'C'));
  // inject sends a user-agent of its own; MailHog's client (node's http.request) sends neither.
  const mailhog = await app.inject({ method: 'DELETE', url: '/api/v1/messages', headers: { 'user-agent': undefined } });
  assert.equal(mailhog.statusCode, 200);
  assert.equal(mailhog.body, '');
  assert.deepEqual(reader.allMessages(), []);
});

test('tags are keywords on every copy: set, listed, searched, renamed and deleted', async (t) => {
  const { app, reader } = await start(t);
  const [a] = await reader.deliver('app@example.test', ['ann@example.test', 'bob@example.test'], welcome('ann@x', 'A'));
  const put = (url: string, payload: object) => app.inject({ method: 'PUT', url, payload });
  assert.equal((await put('/api/v1/tags', { IDs: [a.transaction], Tags: ['Work', 'urgent'] })).body, 'ok');
  assert.deepEqual(
    reader.allMessages().map((m) => m.flags),
    [
      ['Work', 'urgent'],
      ['Work', 'urgent'],
    ],
  );
  assert.deepEqual((await app.inject('/api/v1/tags')).json(), ['urgent', 'Work']);
  assert.equal((await app.inject('/api/v1/search?query=tag:work')).json<{ count: number }>().count, 1);
  await put('/api/v1/tags/Work', { name: 'Home' });
  assert.deepEqual((await app.inject('/api/v1/tags')).json(), ['Home', 'urgent']);
  await app.inject({ method: 'DELETE', url: '/api/v1/tags/urgent' });
  assert.deepEqual(
    reader.allMessages().map((m) => m.flags),
    [['Home'], ['Home']],
  );
  const bad = await put('/api/v1/tags', { IDs: [a.transaction], Tags: ['two words'] });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ code: string }>().code, 'TMS_FLAG_NAME');
});

test('POST /api/v1/send builds MIME, stores it through the delivery port for every recipient, and tags it', async (t) => {
  const reader = new MemoryReader();
  const delivered: Array<{ from: string; to: readonly string[] }> = [];
  const { app } = await start(t, {
    reader,
    async deliver(envelope, message) {
      delivered.push(envelope);
      const [copy] = await reader.deliver(envelope.from, envelope.to, message);
      return copy.transaction!;
    },
  });
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/send',
    payload: {
      From: { Email: 'app@example.test', Name: 'App' },
      To: [{ Email: 'ann@example.test' }],
      Bcc: ['boss@example.test'],
      Subject: 'Report',
      Text: 'See attached',
      Tags: ['reports'],
      Attachments: [{ Content: 'data:text/plain;base64,aGVsbG8=', FileName: 'hello.txt' }],
    },
  });
  assert.equal(response.statusCode, 200);
  const { ID } = response.json<{ ID: string }>();
  assert.deepEqual(delivered, [{ from: 'app@example.test', to: ['ann@example.test', 'boss@example.test'] }]);
  const message = (await app.inject(`/api/v1/message/${ID}`)).json<Record<string, unknown>>();
  assert.equal(message.Subject, 'Report');
  assert.equal(message.Text, 'See attached');
  assert.deepEqual(message.Tags, ['reports']);
  assert.deepEqual(
    (message.Attachments as Array<{ FileName: string }>).map((a) => a.FileName),
    ['hello.txt'],
  );
  assert.deepEqual(message.Bcc, [{ Name: '', Address: 'boss@example.test' }]);
});

test('POST /api/v1/send refuses a bad address or a header it builds, and is off without a delivery port', async (t) => {
  const { app } = await start(t, { deliver: () => Promise.reject(new Error('not reached')) });
  const send = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/send', payload });
  const bad = await send({ From: { Email: 'app@example.test' }, To: [{ Email: 'not an address' }] });
  assert.deepEqual(
    [bad.statusCode, bad.json()],
    [400, { Error: 'invalid To address: not an address', code: 'TMS_BAD_REQUEST' }],
  );
  const header = await send({
    From: { Email: 'a@example.test' },
    To: [{ Email: 'b@example.test' }],
    Headers: { Subject: 'x' },
  });
  assert.equal(header.json<{ Error: string }>().Error, 'cannot overwrite header: "Subject"');
  const { app: off } = await start(t);
  const disabled = await off.inject({
    method: 'POST',
    url: '/api/v1/send',
    payload: { From: { Email: 'a@example.test' }, To: [{ Email: 'b@example.test' }] },
  });
  assert.equal(disabled.json<{ code: string }>().code, 'TMS_NOT_ENABLED');
});

test('request bodies are bounded: 5 MB for the JSON API, the message size limit for send', async (t) => {
  const { app } = await start(t, { maxMessageSize: 1000, deliver: () => Promise.reject(new Error('not reached')) });
  const big = await app.inject({
    method: 'PUT',
    url: '/api/v1/messages',
    payload: JSON.stringify({ IDs: ['x'.repeat(5 * 1024 * 1024)] }),
    headers: { 'content-type': 'application/json' },
  });
  assert.deepEqual([big.statusCode, big.json<{ code: string }>().code], [413, 'TMS_TOO_LARGE']);
  const send = await app.inject({
    method: 'POST',
    url: '/api/v1/send',
    payload: { From: { Email: 'a@example.test' }, To: [{ Email: 'b@example.test' }], Text: 'x'.repeat(2000) },
  });
  assert.equal(send.statusCode, 413);
});

test('a body that is not JSON gets a clear 400', async (t) => {
  const { app } = await start(t);
  const response = await app.inject({
    method: 'PUT',
    url: '/api/v1/messages',
    payload: '{nope',
    headers: { 'content-type': 'application/json' },
  });
  assert.deepEqual(response.json(), { Error: 'The request body is not valid JSON', code: 'TMS_BAD_REQUEST' });
});

test('basic auth guards every route but the health probes', async (t) => {
  const { app } = await start(t, { auth: { username: 'ann', password: 's3cret' } });
  const denied = await app.inject('/api/v1/messages');
  assert.equal(denied.statusCode, 401);
  assert.match(String(denied.headers['www-authenticate']), /^Basic /);
  const wrong = await app.inject({
    url: '/api/v1/messages',
    headers: { authorization: `Basic ${Buffer.from('ann:nope').toString('base64')}` },
  });
  assert.equal(wrong.statusCode, 401);
  const right = await app.inject({
    url: '/api/v1/messages',
    headers: { authorization: `Basic ${Buffer.from('ann:s3cret').toString('base64')}` },
  });
  assert.equal(right.statusCode, 200);
  assert.equal((await app.inject('/livez')).statusCode, 200);
  assert.equal((await app.inject('/readyz')).statusCode, 200);
});

test('CORS is off by default and allows the one configured origin', async (t) => {
  const { app } = await start(t);
  const plain = await app.inject({ url: '/api/v1/messages', headers: { origin: 'http://localhost:80' } });
  assert.equal(plain.headers['access-control-allow-origin'], undefined);
  const { app: open } = await start(t, { corsOrigin: 'https://app.test' });
  const preflight = await open.inject({
    method: 'OPTIONS',
    url: '/api/v1/messages',
    headers: { origin: 'https://app.test', 'access-control-request-method': 'DELETE' },
  });
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.test');
  const allowed = await open.inject({ url: '/api/v1/messages', headers: { origin: 'https://app.test' } });
  assert.equal(allowed.statusCode, 200);
});

test('a request from another site is refused with 403, a same-host one passes', async (t) => {
  const { app } = await start(t);
  const evil = await app.inject({
    url: '/api/v1/messages',
    headers: { origin: 'https://evil.test', host: '127.0.0.1:8080' },
  });
  assert.deepEqual([evil.statusCode, evil.json<{ code: string }>().code], [403, 'TMS_ORIGIN']);
  const same = await app.inject({
    url: '/api/v1/messages',
    headers: { origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' },
  });
  assert.equal(same.statusCode, 200);
});

test('Mailpit chaos triggers become our chaos rules', async (t) => {
  const chaos = new Chaos();
  const { app } = await start(t, { chaos });
  const set = await app.inject({
    method: 'PUT',
    url: '/api/v1/chaos',
    payload: { sender: { errorcode: 452, probability: 50 } },
  });
  assert.deepEqual(set.json(), {
    Sender: { ErrorCode: 452, Probability: 50 },
    Recipient: { ErrorCode: 451, Probability: 0 },
    Authentication: { ErrorCode: 535, Probability: 0 },
  });
  assert.deepEqual(
    chaos.list().map((entry) => entry.text),
    ['mail probability=0.5 reply=452 4.0.0 Chaos: sender refused'],
  );
  await app.inject({ method: 'PUT', url: '/api/v1/chaos', payload: {} });
  assert.deepEqual(chaos.list(), []);
  const { app: off } = await start(t);
  assert.equal((await off.inject('/api/v1/chaos')).json<{ Error: string }>().Error, 'Chaos is not enabled');
});

test('MailHog v2 lists and searches with its envelope, and v1 gets, downloads and deletes by ID', async (t) => {
  const { app, reader } = await start(t);
  const [a] = await reader.deliver('shop@example.test', ['ann@example.test'], welcome('ann@example.test', 'Order'));
  await reader.deliver('app@example.test', ['bob@example.test'], welcome('bob@example.test', 'Hi'));
  const list = (await app.inject('/api/v2/messages?limit=1')).json<{
    total: number;
    count: number;
    items: Array<{ ID: string }>;
  }>();
  assert.deepEqual([list.total, list.count], [2, 1]);
  const search = (await app.inject('/api/v2/search?kind=from&query=SHOP')).json<{
    total: number;
    items: Array<{ ID: string }>;
  }>();
  assert.deepEqual([search.total, search.items[0].ID], [1, a.transaction]);
  const containing = (await app.inject('/api/v2/search?kind=containing&query=hello')).json<{ total: number }>();
  assert.equal(containing.total, 2);
  assert.equal((await app.inject('/api/v2/search?kind=bogus&query=x')).statusCode, 400);
  const one = (await app.inject(`/api/v1/messages/${a.transaction}`)).json<{
    Content: { Headers: Record<string, string[]> };
  }>();
  assert.deepEqual(one.Content.Headers.Subject, ['Order']);
  const download = await app.inject(`/api/v1/messages/${a.transaction}/download`);
  assert.deepEqual(download.rawPayload, await reader.read(a));
  await app.inject({ method: 'DELETE', url: `/api/v1/messages/${a.transaction}` });
  assert.equal((await app.inject(`/api/v1/messages/${a.transaction}`)).statusCode, 404);
});

test('GET /api/v1/mailboxes lists each address with its folders and counts', async (t) => {
  const { app, reader } = await start(t);
  await reader.deliver('app@example.test', ['ann@example.test', 'bob@example.test'], welcome('ann@x'));
  await reader.createFolder({ mailbox: 'ann@example.test', folder: 'Archive' });
  assert.deepEqual((await app.inject('/api/v1/mailboxes')).json(), [
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

test('the OpenAPI document describes every route, at both its paths', async (t) => {
  const { app } = await start(t);
  const doc = (await app.inject('/api/v1/openapi.json')).json<{ openapi: string; paths: Record<string, object> }>();
  assert.equal(doc.openapi, '3.1.0');
  for (const path of [
    '/api/v1/messages',
    '/api/v1/search',
    '/api/v1/message/{id}',
    '/api/v2/messages',
    '/api/v1/mailboxes',
  ])
    assert.ok(doc.paths[path], path);
  assert.deepEqual((await app.inject('/api/v1/swagger.json')).json(), doc);
});

test('success is exactly 200 everywhere a client might check it', async (t) => {
  const { app, reader } = await start(t);
  const [a] = await reader.deliver('app@example.test', ['ann@example.test'], welcome('ann@x'));
  for (const [method, url] of [
    ['GET', '/api/v1/info'],
    ['GET', '/api/v1/webui'],
    ['GET', `/api/v1/message/${a.transaction}/headers`],
    ['PUT', '/api/v1/messages'],
    ['DELETE', '/api/v1/search?query=nothing'],
  ] as const)
    assert.equal((await app.inject({ method, url })).statusCode, 200, `${method} ${url}`);
});
