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
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { Relay } from '../../src/http/release.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { MailStore } from '../../src/mailbox/store.js';
import { exec, freePort, repoRoot, tempDir, tsxLoader, withServer } from '../helpers.js';
import { PythonLock, withTmpfs } from '../mailbox/support.js';

const quiet = createLogger('error');
const inbox = (mailbox: string) => ({ mailbox, folder: 'INBOX' });

/** A store over a fresh MAIL_DIR, for `work`, closed afterwards. */
async function withStore<T>(work: (store: MailStore) => Promise<T>, options = {}): Promise<T> {
  const store = await MailStore.open(await tempDir(), quiet, options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

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
  TMS_MAIL_DIR_READ_ONLY: () =>
    withTmpfs('size=1m,ro', (dir) => caught(() => startTestMailServer({ mailDir: path.join(dir, 'mail') }))),
  TMS_MAIL_DIR_NOT_DIRECTORY: async () => {
    const file = path.join(await tempDir(), 'a-file');
    await writeFile(file, '');
    return caught(() => startTestMailServer({ mailDir: file }));
  },
  TMS_MAIL_DIR_PERMISSION: async () => {
    // As nobody (root is not stopped by permissions), printing what the start threw.
    const script = `const { startTestMailServer } = await import(${JSON.stringify(path.join(repoRoot, 'src/index.ts'))});
      await startTestMailServer({ mailDir: process.argv[1] }).catch((e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })));`;
    const args = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', tsxLoader];
    const mailDir = path.join(await tempDir(), 'mail');
    const { stdout } = await exec('setpriv', [...args, '--input-type=module', '-e', script, mailDir], { cwd: '/' });
    return Object.assign(new Error(), JSON.parse(stdout) as object);
  },
  TMS_UNSAFE_PATH: () =>
    withStore(async (store) => {
      await symlink(await tempDir(), path.join(store.mailDir, 'linked.test'));
      return caught(() => store.createFolder({ mailbox: 'bob@linked.test', folder: 'Sent' }));
    }),
  TMS_LOCK_TIMEOUT: () =>
    withStore(
      async (store) => {
        await store.append(inbox('bob@x.test'), Buffer.from('Subject: x\r\n\r\n'));
        const lock = await PythonLock.hold([path.join(store.mailDir, 'x.test', 'bob')]);
        try {
          return await caught(() => store.setFlags(inbox('bob@x.test'), [1], 'add', ['\\Seen']));
        } finally {
          await lock.close();
        }
      },
      { lockWaitMs: 100 },
    ),
  TMS_FOLDER_FULL: () =>
    withStore(async (store) => {
      await mkdir(path.join(store.mailDir, 'x.test', 'bob'), { recursive: true });
      await writeFile(path.join(store.mailDir, 'x.test', 'bob', String(Number.MAX_SAFE_INTEGER)), 'Subject: last\n\n');
      await store.refresh();
      return caught(() => store.append(inbox('bob@x.test'), Buffer.from('Subject: one more\r\n\r\n')));
    }),
  TMS_STORE_CLOSED: async () => {
    const store = await MailStore.open(await tempDir(), quiet);
    await store.close();
    const check = store.check('bob@x.test');
    assert.ok(check.ok);
    return caught(() => store.deliver(store.receive(), { from: '', to: [check.mailbox] }, trace));
  },
  TMS_DELIVERY_FAILED: () =>
    withStore(async (store) => {
      await writeFile(path.join(store.mailDir, 'blocked.test'), 'a file where a folder goes');
      const check = store.check('bob@blocked.test');
      assert.ok(check.ok);
      const incoming = store.receive();
      incoming.write(Buffer.from('Subject: x\r\n\r\n'));
      return caught(() => store.deliver(incoming, { from: '', to: [check.mailbox] }, trace));
    }),
  TMS_FOLDER_NAME: () =>
    withStore((store) => caught(() => store.createFolder({ mailbox: 'bob@x.test', folder: '../up' }))),
  TMS_FOLDER_EXISTS: () =>
    withStore(async (store) => {
      await store.createFolder({ mailbox: 'bob@x.test', folder: 'Sent' });
      return caught(() => store.createFolder({ mailbox: 'bob@x.test', folder: 'Sent' }));
    }),
  TMS_NO_FOLDER: () =>
    withStore((store) => caught(() => store.deleteFolder({ mailbox: 'bob@x.test', folder: 'Nope' }))),
  TMS_INBOX: () =>
    withStore(async (store) => {
      await store.createFolder({ mailbox: 'bob@x.test', folder: 'Sent' });
      return caught(() => store.deleteFolder(inbox('bob@x.test')));
    }),
  TMS_FOLDER_HAS_CHILDREN: () =>
    withStore(async (store) => {
      await store.createFolder({ mailbox: 'bob@x.test', folder: 'Lists/Work' });
      return caught(() => store.deleteFolder({ mailbox: 'bob@x.test', folder: 'Lists' }));
    }),
  TMS_FLAG_NAME: () =>
    withStore(async (store) => {
      await store.append(inbox('bob@x.test'), Buffer.from('Subject: x\r\n\r\n'));
      return caught(() => store.setFlags(inbox('bob@x.test'), [1], 'add', ['two words']));
    }),
  TMS_UNREACHABLE: async () => caught(async () => connect(`http://127.0.0.1:${await freePort()}`)),
};

const trace = {
  heloName: 'c.test',
  clientAddress: '127.0.0.1',
  serverName: 'here',
  protocol: 'ESMTP',
  id: 'E1',
  receivedAt: new Date(),
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
