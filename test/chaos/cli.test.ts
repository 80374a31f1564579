/** --chaos on the command line: a real CLI process, real clients, the files it stores. */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, tempDir } from '../helpers.js';
import { nodemailerSend, smtplibSend } from './clients.js';

test('--chaos rules (repeatable) act on a CLI server: a refused recipient, the next DATA, a delayed banner', async () => {
  const mailDir = await tempDir();
  const { cli, port } = await CliProcess.listening(mailDir, [
    '--chaos',
    'rcpt to=bounce@* reply=550 5.1.1 no such user',
    '--chaos',
    'data times=1 reply=451 4.3.0 try again',
    '--chaos',
    'connect delay=200',
  ]);
  try {
    assert.match(cli.stderr, /INFO Chaos rule 1: rcpt to=bounce@\* reply=550 5\.1\.1 no such user\n/);
    assert.match(cli.stderr, /INFO Chaos rule 2: data times=1 reply=451 4\.3\.0 try again\n/);
    assert.match(cli.stderr, /INFO Chaos rule 3: connect delay=200\n/);

    const first = await smtplibSend(port, 'app@example.test', ['ok@example.test', 'bounce@example.test']);
    assert.equal(first.error, 'SMTPDataError');
    assert.deepEqual([first.code, first.text], [451, '4.3.0 try again']);
    // A lower bound (1 ms of slack for timer granularity): the banner waited.
    assert.ok(first.greetingSeconds! >= 0.199, `greeting after ${first.greetingSeconds} s`);

    const second = await nodemailerSend(port, 'app@example.test', ['ok@example.test', 'bounce@example.test']);
    assert.deepEqual(second.rejectedResponses, ['550 5.1.1 no such user']);
    assert.deepEqual(second.accepted, ['ok@example.test']);

    await cli.waitForLog(/ok@example\.test -> /);
    assert.match(await readFile(path.join(mailDir, 'example.test', 'ok', '1'), 'utf8'), /Hello from nodemailer/);
    await assert.rejects(stat(path.join(mailDir, 'example.test', 'ok', '2')), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(mailDir, 'example.test', 'bounce')), { code: 'ENOENT' });
    // The refused recipient is not part of the message any more when DATA ends.
    assert.match(cli.stderr, /INFO Chaos rule 2 fired at data \(from <app@example\.test> to <ok@example\.test>\)/);
    assert.match(cli.stderr, /INFO Chaos rule 1 fired at rcpt \(from <app@example\.test> to <bounce@example\.test>\)/);
  } finally {
    cli.child.kill('SIGTERM');
  }
  assert.equal(await cli.exited, 0);
});

test('TMS_CHAOS holds rules one per line when no --chaos is given', async () => {
  const { cli, port } = await CliProcess.listening(await tempDir(), [], {
    TMS_CHAOS: 'mail from=*@spam.test reply=550 5.7.1 spammer\nrcpt disconnect times=1',
  });
  try {
    const outcome = await nodemailerSend(port, 'eve@spam.test', ['ok@example.test']);
    assert.equal(outcome.response, '550 5.7.1 spammer');
    assert.equal((await smtplibSend(port, 'ann@example.test', ['ok@example.test'])).error, 'SMTPServerDisconnected');
    assert.deepEqual((await smtplibSend(port, 'ann@example.test', ['ok@example.test'])).refused, {});
  } finally {
    cli.child.kill('SIGTERM');
  }
  assert.equal(await cli.exited, 0);
});

test('a bad --chaos: one line naming the rule and the problem, a hint to --help, exit 2; --help documents the grammar', async () => {
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [
      ['--chaos', 'rcpt to=bounce@* reply=5x0 no'],
      {},
      /--chaos 'rcpt to=bounce@\* reply=5x0 no': reply code must be three digits from 200 to 599, not "5x0"/,
    ],
    [
      ['--chaos', 'rcpt disconnect', '--chaos', 'bounce reply=550 x'],
      {},
      /--chaos 'bounce reply=550 x': unknown phase "bounce"/,
    ],
    [['--chaos', 'rcpt times=0 disconnect'], {}, /times must be a positive whole number, not 0/],
    [['--chaos', 'rcpt probability=2 disconnect'], {}, /probability must be a number from 0 to 1, not 2/],
    [['--chaos'], {}, /--chaos/],
    [[], { TMS_CHAOS: 'data' }, /TMS_CHAOS 'data': a rule needs a reply, a delay or disconnect/],
  ];
  for (const [args, env, message] of cases) {
    const cli = CliProcess.start([await tempDir(), '--smtp-port', '0', ...args], env);
    assert.equal(await cli.exited, 2, args.join(' '));
    const lines = cli.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, cli.stderr);
    assert.match(lines[0], /^test-mail-server: .+ \(see test-mail-server --help\)$/);
    assert.match(lines[0], message);
  }

  const help = CliProcess.start(['--help']);
  assert.equal(await help.exited, 0);
  for (const text of [
    '--chaos RULE',
    'TMS_CHAOS',
    'PHASE [from=PATTERN] [to=PATTERN] [delay=MS] [disconnect] [times=N] [probability=P] [reply=CODE TEXT...]',
    "--chaos 'rcpt to=bounce@* reply=550 5.1.1 no such user'",
    'sendmail',
  ]) {
    assert.ok(help.stdout.includes(text), `--help mentions ${text}`);
  }
});
