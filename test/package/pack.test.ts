/** The package as users get it: packed once, installed from the tarball into an empty project, used each documented way. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { CliProcess, RawSmtp, repoRoot, run, tempDir } from '../helpers.js';

interface PackResult {
  readonly filename: string;
  readonly files: ReadonlyArray<{ readonly path: string }>;
}

describe('npm pack, then npm install of the tarball into an empty project', () => {
  let packed: PackResult;
  let app: string;

  before(async () => {
    const work = await tempDir('tms-pack-');
    // dist/ is built by `npm test` (and by `prepare` on install); scripts would rebuild it under other tests' feet.
    const output = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: repoRoot,
    });
    [packed] = JSON.parse(output) as PackResult[];
    app = path.join(work, 'app');
    await run('mkdir', ['-p', app]);
    // What `npm init -y` writes: a CommonJS project.
    await writeFile(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    const tarball = path.join(work, packed.filename);
    await run('npm', ['install', '--save-dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app });
  });

  test('the tarball holds the built code, the README and the LICENSE; no sources, tests or source maps', () => {
    const files = packed.files.map((file) => file.path);
    for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js'])
      assert.ok(files.includes(file), `${file} is in the tarball`);
    const stray = files.filter(
      (file) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(file) || file.endsWith('.map'),
    );
    assert.deepEqual(stray, []);
  });

  test('npx test-mail-server --help prints the usage', async () => {
    const help = await run('npx', ['--no-install', 'test-mail-server', '--help'], { cwd: app });
    assert.match(help, /^Usage: test-mail-server \[MAIL_DIR\] \[options\]\n/);
  });

  test('the installed bin runs the server: a message sent to it lands in ./mail', async () => {
    // The bin itself: npx would stand between the signal and the server.
    const bin = path.join(app, 'node_modules', '.bin', 'test-mail-server');
    const cli = new CliProcess(spawn(bin, ['mail', '--smtp-port', '0', '--http-port', '0'], { cwd: app }));
    const port = Number((await cli.waitForLog(/SMTP listening on 127\.0\.0\.1:(\d+)/))[1]);
    const smtp = await RawSmtp.connect(port);
    await smtp.reply();
    await smtp.command('HELO app.test');
    await smtp.startData('a@app.test', ['b@app.test']);
    assert.match(await smtp.command('Subject: packed\r\n\r\nok\r\n.'), /^250 /);
    smtp.close();
    await cli.waitForLog(/b@app\.test -> mail\/app\.test\/b\/1/);
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
  });

  test('an ES module imports the library by name', async () => {
    await writeFile(
      path.join(app, 'use.mjs'),
      "import { startTestMailServer } from 'test-mail-server';\n" +
        'const mail = await startTestMailServer();\nconsole.log(mail.smtpUrl);\nawait mail.close();\n',
    );
    assert.match(await run(process.execPath, ['use.mjs'], { cwd: app }), /^smtp:\/\/127\.0\.0\.1:\d+\n$/);
  });

  test('a CommonJS file requires the library by name, and waits for a message it sends itself', async () => {
    // nodemailer from this repository: the app has only test-mail-server installed.
    const nodemailer = fileURLToPath(import.meta.resolve('nodemailer'));
    await writeFile(
      path.join(app, 'use.cjs'),
      `const nodemailer = require(${JSON.stringify(nodemailer)});
const { startTestMailServer } = require('test-mail-server');

(async () => {
  const mail = await startTestMailServer();
  const transport = nodemailer.createTransport(mail.smtpUrl);
  await transport.sendMail({ from: 'a@app.test', to: 'c@app.test', subject: 'required', text: 'ok' });
  const message = await mail.waitForMessage({ to: 'c@app.test' });
  console.log(message.subject);
  await mail.close();
})();
`,
    );
    assert.equal(await run(process.execPath, ['use.cjs'], { cwd: app }), 'required\n');
  });
});
