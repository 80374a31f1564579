/**
 * The OpenAPI document against the real thing: every route is described, and the answers of a
 * real server (mail sent by SMTP) validate against the schemas the document gives for them,
 * errors included. Validation is by the ajv Fastify itself brings (JSON Schema 2020-12, as
 * OpenAPI 3.1 uses).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { startServer } from '../helpers.js';
import { api, send } from './support.js';

/** Fastify's own ajv (8), found from its compiler's place rather than named as a dependency of ours. */
const fromFastify = createRequire(createRequire(import.meta.url).resolve('@fastify/ajv-compiler'));
type Validate = ((data: unknown) => boolean) & { errors?: unknown };
interface Ajv {
  compile(schema: object): Validate;
  errorsText(errors: unknown): string;
}
const Ajv2020 = (fromFastify('ajv/dist/2020') as { default: new (options: object) => Ajv }).default;
const addFormats = (fromFastify('ajv-formats') as { default: (ajv: Ajv) => void }).default;

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
interface Document {
  openapi: string;
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
}

let server: TestMailServer;
let doc: Document;
let id: string;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

before(async () => {
  server = await startServer({ httpPort: 0, httpAuth: [{ username: 'ann', password: 'pw' }] });
  doc = (await (await authed('/api/v1/openapi.json')).json()) as Document;
  id = await send(server, {
    to: 'Ann <ann@example.test>, bob@example.test',
    cc: 'carl@example.test',
    subject: 'Checked against the document',
    text: 'Hello https://app.test/a',
    html: '<p>Hello <a href="https://app.test/a">a</a></p>',
    attachments: [{ filename: 'a.txt', content: 'A' }],
  });
  await authedJson('PUT', '/api/v1/tags', { IDs: [id], Tags: ['Checked'] });
});

after(() => server.close());

const authorization = `Basic ${Buffer.from('ann:pw').toString('base64')}`;

function authed(route: string, init: RequestInit = {}): Promise<Response> {
  return api(server, route, { ...init, headers: { authorization, ...init.headers } });
}

function authedJson(method: string, route: string, body: unknown): Promise<Response> {
  return authed(route, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

/** The answer's body validates against the document's schema for its path, method and status. */
async function conforms(method: string, template: string, response: Response, status = 200): Promise<void> {
  assert.equal(response.status, status, `${method} ${template}`);
  const operation = doc.paths[template]?.[method.toLowerCase()];
  assert.ok(operation, `the document describes ${method} ${template}`);
  const schema = operation.responses[String(status)]?.content?.['application/json']?.schema;
  assert.ok(schema, `the document has a JSON schema for ${method} ${template} ${status}`);
  const validate = ajv.compile(schema);
  const body: unknown = await response.json();
  assert.ok(validate(body), `${method} ${template} ${status}: ${ajv.errorsText(validate.errors)}`);
}

test("the document is OpenAPI 3.1, at /api/v1/openapi.json and at Mailpit's /api/v1/swagger.json", async () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(await (await authed('/api/v1/swagger.json')).json(), doc);
  assert.match(doc.info.description, /\/api\/events/);
  assert.match(doc.info.description, /\/api\/tms\/events/);
});

test('every route is described: Mailpit, MailHog, the mailboxes, the toolkit and chaos', () => {
  for (const [path, methods] of Object.entries({
    '/api/v1/messages': ['get', 'put', 'delete'],
    '/api/v1/search': ['get', 'delete'],
    '/api/v1/message/{id}': ['get'],
    '/api/v1/message/{id}/headers': ['get'],
    '/api/v1/message/{id}/raw': ['get'],
    '/api/v1/message/{id}/part/{partId}': ['get'],
    '/api/v1/message/{id}/part/{partId}/thumb': ['get'],
    '/api/v1/message/{id}/release': ['post'],
    '/api/v1/send': ['post'],
    '/api/v1/tags': ['get', 'put'],
    '/api/v1/tags/{tag}': ['put', 'delete'],
    '/api/v1/info': ['get'],
    '/api/v1/webui': ['get'],
    '/api/v1/chaos': ['get', 'put'],
    '/view/{file}': ['get'],
    '/livez': ['get'],
    '/readyz': ['get'],
    '/api/v2/messages': ['get'],
    '/api/v2/search': ['get'],
    '/api/v1/messages/{id}': ['get', 'delete'],
    '/api/v1/messages/{id}/release': ['post'],
    '/api/v1/messages/{id}/download': ['get'],
    '/api/v1/mailboxes': ['get'],
    '/api/tms/messages': ['get', 'delete'],
    '/api/tms/messages/{id}': ['get'],
    '/api/tms/messages/{id}/raw': ['get'],
    '/api/tms/chaos': ['get', 'post', 'delete'],
    '/api/tms/chaos/{id}': ['delete'],
  }))
    assert.deepEqual(Object.keys(doc.paths[path] ?? {}).sort(), methods.sort(), path);
});

test('the check has teeth: a body missing a field or with a bad date fails it', () => {
  const schema = doc.paths['/api/v1/messages'].get.responses['200'].content!['application/json'].schema;
  const validate = ajv.compile(schema);
  assert.equal(validate({ total: 1 }), false);
  const summary = doc.paths['/api/tms/messages'].get.responses['200'].content!['application/json'].schema;
  const meta = {
    id: 'c_x',
    item: 'X',
    mailbox: 'a@b',
    folder: 'INBOX',
    number: 1,
    envelope: { from: '', to: [] },
    size: 1,
  };
  assert.equal(ajv.compile(summary)({ messages: [{ ...meta, receivedAt: 'yesterday' }] }), false);
  assert.equal(ajv.compile(summary)({ messages: [{ ...meta, receivedAt: new Date().toISOString() }] }), true);
});

test("Mailpit's answers match the document", async () => {
  await conforms('GET', '/api/v1/messages', await authed('/api/v1/messages'));
  await conforms('GET', '/api/v1/search', await authed('/api/v1/search?query=checked'));
  await conforms('GET', '/api/v1/message/{id}', await authed(`/api/v1/message/${id}`));
  await conforms('GET', '/api/v1/message/{id}/headers', await authed(`/api/v1/message/${id}/headers`));
  await conforms('GET', '/api/v1/tags', await authed('/api/v1/tags'));
  await conforms('GET', '/api/v1/info', await authed('/api/v1/info'));
  await conforms('GET', '/api/v1/webui', await authed('/api/v1/webui'));
  await conforms('GET', '/api/v1/chaos', await authed('/api/v1/chaos'));
  const sent = await authedJson('POST', '/api/v1/send', {
    From: { Email: 'a@example.test' },
    To: [{ Email: 'b@example.test' }],
  });
  await conforms('POST', '/api/v1/send', sent);
});

test("MailHog's answers match the document", async () => {
  await conforms('GET', '/api/v2/messages', await authed('/api/v2/messages'));
  await conforms('GET', '/api/v2/search', await authed('/api/v2/search?kind=to&query=ann'));
  await conforms('GET', '/api/v1/messages/{id}', await authed(`/api/v1/messages/${id}`));
});

test("our answers match the document: mailboxes, the toolkit's copies and chaos rules", async () => {
  await conforms('GET', '/api/v1/mailboxes', await authed('/api/v1/mailboxes'));
  await conforms('GET', '/api/tms/messages', await authed('/api/tms/messages'));
  await conforms('GET', '/api/tms/messages/{id}', await authed(`/api/tms/messages/${id}`));
  const added = await authedJson('POST', '/api/tms/chaos', {
    rule: { on: 'rcpt', to: '/^x@/', reply: { code: 550, text: 'no' } },
  });
  await conforms('POST', '/api/tms/chaos', added);
  await authedJson('POST', '/api/tms/chaos', { rule: 'data times=2 delay=1' });
  await conforms('GET', '/api/tms/chaos', await authed('/api/tms/chaos'));
  await conforms('DELETE', '/api/tms/chaos/{id}', await authed('/api/tms/chaos/1', { method: 'DELETE' }));
  await conforms('DELETE', '/api/tms/chaos', await authed('/api/tms/chaos', { method: 'DELETE' }));
});

test('error answers match the document too', async () => {
  await conforms('GET', '/api/v1/message/{id}', await authed('/api/v1/message/nope'), 404);
  await conforms('GET', '/api/v1/search', await authed('/api/v1/search?query='), 400);
  await conforms('GET', '/api/v1/messages', await api(server, '/api/v1/messages'), 401);
  await conforms('POST', '/api/tms/chaos', await authedJson('POST', '/api/tms/chaos', { rule: 'rcpt explode' }), 400);
  await conforms(
    'POST',
    '/api/v1/message/{id}/release',
    await authedJson('POST', `/api/v1/message/${id}/release`, { To: ['x@example.test'] }),
    400,
  );
});
