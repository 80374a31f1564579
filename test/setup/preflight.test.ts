/** `npm test`'s first step: the system tools the tests drive, checked before any test runs. */
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { exec, repoRoot, tempDir, tsxLoader } from '../helpers.js';

const preflight = path.join(repoRoot, 'test', 'preflight.ts');

function runPreflight(env: NodeJS.ProcessEnv) {
  return exec(process.execPath, ['--import', tsxLoader, preflight], { env });
}

test('with the tools installed the preflight prints nothing and succeeds', async () => {
  assert.deepEqual(await runPreflight(process.env), { code: 0, stdout: '', stderr: '' });
});

test('a tool missing from PATH: one line naming it and its Debian package, exit 1', async () => {
  // A PATH holding the interpreters the checks run, but no swaks.
  const bin = await tempDir('tms-path-');
  await symlink('/usr/bin/perl', path.join(bin, 'perl'));
  await symlink('/usr/bin/python3', path.join(bin, 'python3'));
  const { PYTHON: _, ...env } = process.env;
  assert.deepEqual(await runPreflight({ ...env, PATH: bin }), {
    code: 1,
    stdout: '',
    stderr: 'npm test needs swaks: apt-get install swaks (Debian, Ubuntu)\n',
  });
});
