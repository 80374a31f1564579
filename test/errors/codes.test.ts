import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import * as library from '../../src/index.js';
import { createAddress, errorCodes, parseChaosRule, startTestMailServer, type ErrorCode } from '../../src/index.js';
import { repoRoot, tempDir, withServer } from '../helpers.js';

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
};

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
