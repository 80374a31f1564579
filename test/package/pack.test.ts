import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, RawSmtp, repoRoot, run, tempDir } from '../helpers.js';

test('npm pack gives a tarball that installs into an empty folder and runs as npx test-mail-server', async () => {
  const work = await tempDir('tms-pack-');
  // dist/ is built by `npm test` (and by `prepare` on install); scripts would rebuild it under other tests' feet.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: repoRoot });
  const [tarball] = (await readdir(work)).filter((name) => name.endsWith('.tgz'));
  assert.ok(tarball, 'a .tgz was written');
  const app = path.join(work, 'app');
  await run('mkdir', ['-p', app]);
  await writeFile(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarball)], { cwd: app });

  assert.match(await run('npx', ['--no-install', 'test-mail-server', '--version'], { cwd: app }), /^\d+\.\d+\.\d+\n$/);
  // The installed bin itself (npx would stand between the signal and the server).
  const bin = path.join(app, 'node_modules', '.bin', 'test-mail-server');
  const cli = new CliProcess(
    (await import('node:child_process')).spawn(bin, ['mail', '--smtp-port', '0'], { cwd: app }),
  );
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

  // The library face works from the installed package too.
  const script =
    "import { startTestMailServer } from 'test-mail-server'; const s = await startTestMailServer(); console.log(s.smtpUrl); await s.close();";
  assert.match(
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }),
    /^smtp:\/\/127\.0\.0\.1:\d+\n$/,
  );
});
