import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import * as library from '../../src/index.js';
import {
  connect,
  createAddress,
  errorCodes,
  httpErrorCodes,
  parseChaosRule,
  startTestMailServer,
  type ErrorCode,
  type HttpErrorCode,
  type TestMailServer,
} from '../../src/index.js';
import type { InjectOptions } from 'fastify';
import { Relay } from '../../src/http/release.js';
import { createHttpServer } from '../../src/http/server.js';
import { freePort, repoRoot, tempDir, withServer } from '../helpers.js';

/** Each code's documented situation, brought about for real: resolves with what was thrown. */
const provoke: Record<ErrorCode, () => Promise<unknown>> = {
  TMS_PORT_IN_USE: async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const mailDir = await tempDir();
      return await caught(() => startTestMailServer({ mailDir, smtpPort: port }));
    } finally {
      blocker.close();
    }
  },
  TMS_TLS_FILES: async () => {
    const mailDir = await tempDir();
    return caught(() => startTestMailServer({ mailDir, tlsCert: 'missing.pem', tlsKey: 'missing-key.pem' }));
  },
  TMS_CHAOS_RULE: () => caught(() => parseChaosRule('rcpt explode')),
  TMS_TIMEOUT: () => withServer((mail) => caught(() => mail.waitForMessage({ subject: 'never sent' }, { timeout: 0 }))),
  TMS_CLIENT_CLOSED: async () => {
    const mail = await startTestMailServer();
    const waiting = caught(() => mail.waitForMessage({ subject: 'never sent' }));
    await mail.close();
    return waiting;
  },
  TMS_INVALID_FILTER: () => withServer((mail) => caught(() => mail.waitForMessage({ subjct: 'typo' } as never))),
  TMS_INVALID_ARGUMENT: () => caught(() => createAddress('no spaces allowed')),
  TMS_UNREACHABLE: async () => caught(async () => connect(`http://127.0.0.1:${await freePort()}`)),
};

/** A request that gets each HTTP error code from a real server (started with httpPort 0, chaos, no auth). */
const provokeOverHttp: Record<HttpErrorCode, (server: TestMailServer) => Promise<Response>> = {
  TMS_BAD_REQUEST: (server) => fetch(`${server.httpUrl}/api/v1/search?query=`),
  TMS_FLAG_NAME: async (server) => {
    await server.store.append({ mailbox: 'ann@example.test', folder: 'INBOX' }, Buffer.from('Subject: x\r\n\r\n'));
    const [{ ID }] = (
      (await (await fetch(`${server.httpUrl}/api/v1/messages`)).json()) as { messages: [{ ID: string }] }
    ).messages;
    return put(server, '/api/v1/tags', { IDs: [ID], Tags: ['two words'] });
  },
  TMS_CHAOS_RULE: (server) => put(server, '/api/tms/chaos', { rule: 'rcpt explode' }, 'POST'),
  TMS_NOT_ENABLED: (server) => injected(server, {}, '/api/v1/chaos'),
  TMS_RECIPIENT_NOT_ALLOWED: async (server) =>
    injected(
      server,
      { relay: new Relay({ url: server.smtpUrl, allow: ['*@example.test'] }, 'localhost') },
      {
        method: 'POST',
        url: `/api/v1/message/${await stored(server)}/release`,
        payload: { To: ['boss@elsewhere.test'] },
      },
    ),
  TMS_RELAY_FAILED: async (server) =>
    injected(
      server,
      { relay: new Relay({ url: `smtp://127.0.0.1:${await freePort()}` }, 'localhost') },
      {
        method: 'POST',
        url: `/api/v1/message/${await stored(server)}/release`,
        payload: { To: ['carl@example.test'] },
      },
    ),
  TMS_UNAUTHORIZED: (server) => injected(server, { auth: [{ username: 'a', password: 'b' }] }, '/api/v1/messages'),
  TMS_ORIGIN: (server) => fetch(`${server.httpUrl}/api/v1/messages`, { headers: { origin: 'https://evil.test' } }),
  TMS_NOT_FOUND: (server) => fetch(`${server.httpUrl}/api/v1/message/nope`),
  TMS_TOO_LARGE: (server) => put(server, '/api/v1/messages', { IDs: ['x'.repeat(6 * 1024 * 1024)] }),
  // A reader that fails: the fault is ours, and the answer says so without details.
  TMS_INTERNAL: (server) =>
    injected(
      server,
      { reader: overriding(server.store, 'mailboxes', () => fail('the disk is on fire')) },
      '/api/v1/mailboxes',
    ),
  // An index still being built: readiness waits for it.
  TMS_NOT_READY: (server) =>
    injected(server, { reader: overriding(server.store, 'indexed', new Promise<void>(() => {})) }, '/readyz'),
};

/** Stores a message; resolves with its Mailpit ID. */
async function stored(server: TestMailServer): Promise<string> {
  await server.store.append({ mailbox: 'ann@example.test', folder: 'INBOX' }, Buffer.from('Subject: x\r\n\r\n'));
  const list = (await (await fetch(`${server.httpUrl}/api/v1/messages`)).json()) as { messages: [{ ID: string }] };
  return list.messages[0].ID;
}

function put(server: TestMailServer, route: string, body: unknown, method = 'PUT'): Promise<Response> {
  return fetch(`${server.httpUrl}${route}`, {
    method,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
}

/** The app over the server's store with other options, asked in memory (Fastify's inject). */
async function injected(
  server: TestMailServer,
  options: Partial<Parameters<typeof createHttpServer>[0]>,
  request: string | InjectOptions,
): Promise<Response> {
  const app = await createHttpServer({ reader: server.store, ...options });
  try {
    const reply = await app.inject(request);
    return new Response(reply.body, { status: reply.statusCode });
  } finally {
    await app.close();
  }
}

/** `target` with one property replaced. */
function overriding<T extends object, K extends keyof T>(target: T, property: K, value: T[K]): T {
  return new Proxy(target, {
    get: (object, name, receiver) => (name === property ? value : (Reflect.get(object, name, receiver) as unknown)),
  });
}

function fail(message: string): never {
  throw new Error(message);
}

/** What `work` threw or rejected with; fails the test if it succeeded. */
async function caught(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  assert.fail('expected an error');
}

for (const [code, names] of Object.entries(errorCodes) as [ErrorCode, readonly string[]][]) {
  test(`${code} is thrown, as ${names.join(' or ')}, in the situation its documentation names`, async () => {
    const error = (await provoke[code]()) as Error & { code?: unknown };
    assert.ok(error instanceof Error, String(error));
    assert.equal(error.code, code, error.message);
    assert.ok(names.includes(error.name), `${error.name} is one of ${names.join(', ')}`);
  });
}

for (const [code, status] of Object.entries(httpErrorCodes) as [HttpErrorCode, number][]) {
  test(`the HTTP API answers ${code} with ${status} and { Error, code }, in the situation its documentation names`, () =>
    withServer(
      async (server) => {
        const response = await provokeOverHttp[code](server);
        assert.equal(response.status, status);
        const body = (await response.json()) as { Error: unknown; code: unknown };
        assert.equal(body.code, code);
        assert.equal(typeof body.Error, 'string');
      },
      { httpPort: 0 },
    ));
}

test('every error class the package exports carries a catalogued code', () => {
  const catalogued = new Set<string>(Object.values(errorCodes).flat());
  const exported = Object.entries(library).filter(
    ([, value]) => typeof value === 'function' && value.prototype instanceof Error,
  );
  assert.ok(exported.length >= 5, 'the error classes are exported');
  for (const [name] of exported) assert.ok(catalogued.has(name), `${name} has a code in src/errors.ts`);
});

test('the README\'s "Errors" table lists every code with its error names, and no other', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = /^## Errors\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  assert.ok(section, 'README.md has an "## Errors" section');
  const documented = Object.fromEntries(
    [...section.matchAll(/^\| `(TMS_[A-Z_]+)` \| ([^|]+) \|/gm)].map(([, code, names]) => [
      code,
      [...names.matchAll(/`(\w+)`/g)].map(([, name]) => name),
    ]),
  );
  assert.deepEqual(
    documented,
    Object.fromEntries(Object.entries(errorCodes).map(([code, names]) => [code, [...names]])),
  );
});

test("the README's HTTP error table lists every code of the HTTP API with its status, and no other", () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = /^### HTTP errors\n([\s\S]*?)(?=^##)/m.exec(readme)?.[1];
  assert.ok(section, 'README.md has a "### HTTP errors" section');
  const documented = Object.fromEntries(
    [...section.matchAll(/^\| `(TMS_[A-Z_]+)` \| (\d{3}) \|/gm)].map(([, code, status]) => [code, Number(status)]),
  );
  assert.deepEqual(documented, httpErrorCodes);
});
