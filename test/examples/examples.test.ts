/**
 * The "Use it in tests" examples are documentation that runs: each example under examples/ is
 * executed by its own test runner, importing the package by name as a user would (Node resolves
 * `test-mail-server` inside this package through its `exports`, i.e. dist/, built by `prepare`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { startTestMailServer } from '../../src/index.js';
import { repoRoot, tempDir } from '../helpers.js';
import { pythonWithDjango } from '../preflight.js';

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs a command from the repository root; resolves with its exit code and stdout+stderr. */
function runRunner(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' };
    // Set by the node:test runner for its own children; a nested `node --test` would then talk its protocol.
    delete childEnv.NODE_TEST_CONTEXT;
    const child = spawn(command, args, { cwd: repoRoot, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function assertPassed(outcome: Outcome, passed: RegExp): void {
  assert.equal(outcome.code, 0, `the runner failed:\n${outcome.output}`);
  assert.match(outcome.output, passed, `not every example test ran:\n${outcome.output}`);
}

const examples = [
  'app/mailer.js',
  'node-test/welcome.test.ts',
  'vitest/welcome.test.ts',
  'jest/jest.config.js',
  'jest/welcome.test.js',
  'playwright/welcome.spec.ts',
  'django/test_email.py',
];

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('examples/ (README "Use it in tests")', { concurrency: true }, () => {
  test('the package is built, so the examples can import test-mail-server by name', () => {
    const built = path.join(repoRoot, 'dist', 'index.js');
    assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` (npm install does it through `prepare`)');
    const newestSource = Math.max(
      ...readdirSync(path.join(repoRoot, 'src'), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .map((file) => statSync(path.join(repoRoot, 'src', file)).mtimeMs),
    );
    assert.ok(statSync(built).mtimeMs >= newestSource, 'dist/ is older than src/: run `npm run build`');
  });

  test('the "Use it in tests" docs show every example file as it is', () => {
    const docs = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    for (const example of examples) {
      const text = readFileSync(path.join(repoRoot, 'examples', example), 'utf8').trimEnd();
      assert.ok(docs.includes(text), `examples/${example} differs from the code shown in the docs`);
    }
  });

  test('node:test example (node --test)', async () => {
    assertPassed(
      await runRunner(process.execPath, ['--import', 'tsx', '--test', 'examples/node-test/welcome.test.ts']),
      /^# pass 2$/m,
    );
  });

  test('Vitest example (npx vitest run)', async () => {
    assertPassed(
      await runRunner(npx, ['--no-install', 'vitest', 'run', '--root', 'examples/vitest']),
      /Tests {2}2 passed \(2\)/,
    );
  });

  test('Jest example (npx jest, native ES modules)', async () => {
    const outcome = await runRunner(npx, ['--no-install', 'jest', '--config', 'examples/jest/jest.config.js'], {
      NODE_OPTIONS: '--experimental-vm-modules --no-warnings',
    });
    assertPassed(outcome, /Tests: {7}1 passed, 1 total/);
  });

  test('Playwright Test example (npx playwright test, no browser)', async () => {
    const output = await tempDir('tms-playwright-');
    const outcome = await runRunner(npx, [
      '--no-install',
      'playwright',
      'test',
      '--config',
      'examples/playwright/playwright.config.ts',
      '--output',
      output,
    ]);
    assertPassed(outcome, /\b1 passed\b/);
  });

  test('Django example (EMAIL_PORT, reading MAIL_DIR with mailbox.MH)', async () => {
    const python = await pythonWithDjango();
    assert.ok(
      python,
      'Django is not installed for python3: apt-get install python3-django (or set PYTHON to an interpreter that has it)',
    );
    const mail = await startTestMailServer({ mailDir: await tempDir() });
    try {
      const outcome = await runRunner(python, ['examples/django/test_email.py'], {
        EMAIL_PORT: String(mail.smtpPort),
        MAIL_DIR: mail.mailDir,
      });
      assertPassed(outcome, /^Ran 2 tests in /m);
      assert.match(outcome.output, /^OK$/m);
      // The mail really went through the server.
      assert.equal((await mail.messages({ subject: /^Welcome to Acme/ })).length, 2);
    } finally {
      await mail.close();
    }
  });
});
