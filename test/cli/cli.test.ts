import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, freePort, RawSmtp, repoRoot, tempDir } from '../helpers.js';

const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

async function sendOne(port: number, to: string, body = 'Subject: hello\r\n\r\nsecret body text\r\n'): Promise<void> {
  const smtp = await RawSmtp.connect(port);
  await smtp.reply();
  await smtp.command('EHLO cli.test');
  await smtp.command(`AUTH PLAIN ${Buffer.from('\0someone\0hunter2').toString('base64')}`);
  await smtp.command('MAIL FROM:<a@cli.test>');
  await smtp.command(`RCPT TO:<${to}>`);
  await smtp.command('DATA');
  assert.match(await smtp.command(`${body}.`), /^250 /);
  await smtp.command('QUIT');
}

test('--help documents every option with its environment variable; --version prints the version', async () => {
  const help = CliProcess.start(['--help']);
  assert.equal(await help.exited, 0);
  for (const text of [
    '--host',
    '--smtp-port',
    '--max-message-size',
    '--tls',
    '--smtps-port',
    '--tls-cert',
    '--tls-key',
    '--imap-port',
    '--pop3-port',
    '--http-port',
    'TMS_SMTP_PORT',
    'LOG_LEVEL',
    'MAIL_DIR',
  ]) {
    assert.ok(help.stdout.includes(text), `--help mentions ${text}`);
  }
  const shown = CliProcess.start(['--version']);
  assert.equal(await shown.exited, 0);
  assert.equal(shown.stdout, `${version}\n`);
});

test('a bad option or value: one line with a hint to --help, exit 2', async () => {
  for (const args of [
    ['--frobnicate'],
    ['--smtp-port', 'eighty'],
    ['--smtp-port', '70000'],
    ['--max-message-size', '-1'],
    ['a', 'b'],
    ['--tls-cert', 'x.pem'],
  ]) {
    const cli = CliProcess.start(args);
    assert.equal(await cli.exited, 2, args.join(' '));
    const lines = cli.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, cli.stderr);
    assert.match(lines[0], /^test-mail-server: .+ \(see test-mail-server --help\)$/);
  }
  const badEnv = CliProcess.start([], { TMS_SMTP_PORT: 'x' });
  assert.equal(await badEnv.exited, 2);
  assert.match(badEnv.stderr, /^test-mail-server: TMS_SMTP_PORT must be a port number/);
});

test('an unknown option: one line naming it and the closest valid option, with the --help hint, exit 2', async () => {
  const cli = CliProcess.start(['--smtp-prot', '2525']);
  assert.equal(await cli.exited, 2);
  assert.equal(
    cli.stderr,
    'test-mail-server: unknown option --smtp-prot; did you mean --smtp-port? (see test-mail-server --help)\n',
  );
  assert.equal(cli.stdout, '');
});

/** Runs `body` with a port that another server holds, released afterwards. */
async function withPortTaken(body: (port: number) => Promise<void>): Promise<void> {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    await body((blocker.address() as net.AddressInfo).port);
  } finally {
    blocker.close();
  }
}

test('a port in use: one line naming the address and the option, exit 1', () =>
  withPortTaken(async (port) => {
    const cli = CliProcess.start([await tempDir(), '--smtp-port', String(port)], { LOG_LEVEL: 'error' });
    assert.equal(await cli.exited, 1);
    assert.equal(
      cli.stderr,
      `test-mail-server: 127.0.0.1:${port} is already in use (choose another port with --smtp-port)\n`,
    );
  }));

test('the SMTPS port in use: the line names --smtps-port, the option that moves that listener', () =>
  withPortTaken(async (port) => {
    const args = [await tempDir(), '--smtp-port', '0', '--smtps-port', String(port)];
    const cli = CliProcess.start(args, { LOG_LEVEL: 'error' });
    assert.equal(await cli.exited, 1);
    assert.equal(
      cli.stderr,
      `test-mail-server: 127.0.0.1:${port} is already in use (choose another port with --smtps-port)\n`,
    );
  }));

test('the HTTP port in use: the line names --http-port', () =>
  withPortTaken(async (port) => {
    const cli = CliProcess.start([await tempDir(), '--smtp-port', '0', '--http-port', String(port)], {
      LOG_LEVEL: 'error',
    });
    assert.equal(await cli.exited, 1);
    assert.equal(
      cli.stderr,
      `test-mail-server: 127.0.0.1:${port} is already in use (choose another port with --http-port)\n`,
    );
  }));

test('the CLI serves the HTTP API on --http-port, with --ui-auth, and logs where', async () => {
  const { cli } = await CliProcess.listening(await tempDir(), ['--ui-auth', 'ann:s3cret']);
  try {
    const [, port] = await cli.waitForLog(/INFO HTTP listening on 127\.0\.0\.1:(\d+)\n/);
    const url = `http://127.0.0.1:${port}/api/v1/messages`;
    assert.equal((await fetch(url)).status, 401);
    const authorization = `Basic ${Buffer.from('ann:s3cret').toString('base64')}`;
    assert.equal(((await (await fetch(url, { headers: { authorization } })).json()) as { total: number }).total, 0);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});

test('INFO logs start, each delivery with its file, and stop; SIGINT exits 0; MAIL_DIR is created 0750', async () => {
  const parent = await tempDir();
  const mailDir = path.join(parent, 'nested', 'mail');
  const { cli, port } = await CliProcess.listening(mailDir, [
    '--imap-port',
    '8143',
    '--pop3-port',
    '8110',
    '--http-port',
    '0',
  ]);
  assert.match(cli.stderr, new RegExp(`INFO Created mail directory ${mailDir}\\n`));
  assert.equal((await stat(mailDir)).mode & 0o777, 0o750);
  await sendOne(port, 'bob@Doh.Hi.Gov');
  await cli.waitForLog(/bob@doh\.hi\.gov -> .*doh\.hi\.gov\/bob\/1\n/);
  assert.ok(cli.stderr.includes(`INFO bob@doh.hi.gov -> ${path.join(mailDir, 'doh.hi.gov', 'bob', '1')}`));
  cli.child.kill('SIGINT');
  assert.equal(await cli.exited, 0);
  assert.match(cli.stderr, /INFO Stopped\n$/);
  assert.ok(!cli.stderr.includes('DEBUG'));
  // A stopped server leaves its mail and the folder's MH files, no lock or temp files.
  const files: string[] = [];
  for (const name of await readdir(mailDir, { recursive: true })) {
    if ((await stat(path.join(mailDir, name))).isFile()) files.push(name);
  }
  assert.deepEqual(files.sort(), [
    'doh.hi.gov/bob/.mh_highwater',
    'doh.hi.gov/bob/.mh_sequences',
    'doh.hi.gov/bob/.mh_uidvalidity',
    'doh.hi.gov/bob/1',
  ]);
});

test('SIGTERM as soon as the server thread logs (store open, maybe not yet listening): a clean stop, exit 0', async () => {
  const mailDir = path.join(await tempDir(), 'fresh');
  const cli = CliProcess.start([mailDir, '--smtp-port', '0']);
  // Logged by the server thread as it opens the store, before it listens.
  await cli.waitForLog(/INFO Created mail directory /);
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
  assert.match(cli.stderr, /INFO SMTP listening on 127\.0\.0\.1:\d+\n(?:.*\n)*.*INFO Stopped\n$/);
});

test('MAIL_DIR defaults to ./mail; options also come from the environment', async () => {
  const cwd = await tempDir();
  const cli = CliProcess.start([], { TMS_SMTP_PORT: '0', TMS_HOST: '127.0.0.1' }, cwd);
  const port = Number((await cli.waitForLog(/SMTP listening on 127\.0\.0\.1:(\d+)/))[1]);
  await sendOne(port, 'ann@example.test');
  await cli.waitForLog(/ann@example\.test -> mail\/example\.test\/ann\/1/);
  assert.ok((await stat(path.join(cwd, 'mail', 'example.test', 'ann', '1'))).isFile());
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('LOG_LEVEL=debug shows the conversation but never bodies or passwords', async () => {
  const { cli, port } = await CliProcess.listening(await tempDir(), [], { LOG_LEVEL: 'debug' });
  await sendOne(port, 'bob@dbg.test');
  await cli.waitForLog(/C: QUIT/);
  assert.match(cli.stderr, /DEBUG SMTP 127\.0\.0\.1 C: MAIL FROM:<a@cli\.test>/);
  assert.match(cli.stderr, /DEBUG SMTP 127\.0\.0\.1 S: 250 2\.1\.5 Recipient OK/);
  assert.match(cli.stderr, /C: AUTH PLAIN \*\*\*\*/);
  assert.ok(!cli.stderr.includes('secret body text'));
  assert.ok(!cli.stderr.includes(Buffer.from('\0someone\0hunter2').toString('base64')));
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('LOG_LEVEL=ERROR logs nothing in normal operation; WARN is WARNING; an unknown level warns once and uses INFO', async () => {
  for (const level of ['ERROR', 'Warn']) {
    const port = await freePort();
    const cli = CliProcess.start([await tempDir(), '--smtp-port', String(port)], { LOG_LEVEL: level });
    await CliProcess.greeting(port);
    await sendOne(port, 'quiet@log.test');
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
    assert.equal(cli.stderr, '', level);
  }
  const { cli } = await CliProcess.listening(await tempDir(), [], { LOG_LEVEL: 'chatty' });
  assert.match(
    cli.stderr,
    /^\S+ WARNING Unknown LOG_LEVEL "chatty" \(use DEBUG, INFO, WARNING or ERROR\); using INFO\n/,
  );
  assert.equal(cli.stderr.match(/Unknown LOG_LEVEL/g)!.length, 1);
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});
