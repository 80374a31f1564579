/**
 * `test-mail-server sendmail` as a child process against a library server: what the store
 * holds afterwards, and the exit status and message when something goes wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { cliPath, exec, freePort, python, repoRoot, tsxLoader, withServer, inboxNumbers } from '../helpers.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the sendmail subcommand with `input` on standard input. */
function sendmail(args: string[], input: string | Buffer, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return exec(process.execPath, ['--import', tsxLoader, cliPath, 'sendmail', ...args], {
    input,
    env: { ...process.env, USER: 'tester', ...env },
    cwd: repoRoot,
  });
}

/** A server for one test, and its address as --smtp takes it. */
function withSmtp(body: (server: TestMailServer, smtp: string) => Promise<void>): Promise<void> {
  return withServer((server) => body(server, `127.0.0.1:${server.smtpPort}`));
}

/** The stored copies of a mailbox, as text. */
async function stored(server: TestMailServer, mailbox: string): Promise<string[]> {
  const messages: string[] = [];
  for (const number of inboxNumbers(server.store, mailbox))
    messages.push((await server.store.read({ mailbox, folder: 'INBOX', number }))!.toString('utf8'));
  return messages;
}

/** The message as the sender wrote it: the stored file without the store's trace lines. */
function original(stored: string): string {
  return stored.replace(/^Return-Path: .*\r\nDelivered-To: .*\r\nReceived: [^\r]*(\r\n[ \t][^\r]*)*\r\n/, '');
}

test('recipients as arguments; LF input is stored with CRLF; silent, exit 0; the default sender is $USER@localhost', async () => {
  await withSmtp(async (server, smtp) => {
    const message = 'From: App <app@example.test>\nTo: bob@example.test\nSubject: plain\n\nHello\nsecond line\n';
    const outcome = await sendmail(
      ['--smtp', smtp, 'bob@example.test', 'Ann <ann@example.test>, carl@example.test'],
      message,
    );
    assert.deepEqual(outcome, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(server.store.mailboxes(), ['ann@example.test', 'bob@example.test', 'carl@example.test']);
    const [copy] = await stored(server, 'ann@example.test');
    assert.match(copy, /^Return-Path: <tester@localhost>\r\nDelivered-To: ann@example.test\r\n/);
    assert.equal(original(copy), message.replace(/\n/g, '\r\n'));
    assert.ok(!/[^\r]\n/.test(copy), 'every line ends in CRLF');

    // TMS_SMTP instead of --smtp; CRLF input is kept as is; 8-bit UTF-8 passes unchanged.
    const utf8 =
      'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, 日本\r\n';
    assert.equal((await sendmail(['dora@example.test'], utf8, { TMS_SMTP: smtp })).code, 0);
    const [dora] = await stored(server, 'dora@example.test');
    assert.ok(original(dora).endsWith('\r\n\r\nGrüße, 日本\r\n'));
  });
});

test('-t takes To, Cc and Bcc; Bcc is removed from every stored copy, yet the Bcc recipient gets one (read back with Python mailbox.MH)', async () => {
  await withSmtp(async (server, smtp) => {
    const message = [
      'From: App <app@example.test>',
      'To: "Bob, B." <bob@example.test>,',
      '   ann@example.test',
      'Cc: carl@example.test',
      'Bcc: hidden@example.test',
      'Subject: with bcc',
      '',
      'Body text',
      '',
    ].join('\n');
    const outcome = await sendmail(['--smtp', smtp, '-t', '-i', 'extra@example.test'], message);
    assert.deepEqual(outcome, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(server.store.mailboxes(), [
      'ann@example.test',
      'bob@example.test',
      'carl@example.test',
      'extra@example.test',
      'hidden@example.test',
    ]);

    const script = String.raw`
import json, mailbox, os, sys
root = sys.argv[1]
out = {}
for local in sys.argv[2:]:
    box = mailbox.MH(os.path.join(root, 'example.test', local), create=False)
    out[local] = [{'bcc': m['Bcc'], 'to': m['To'], 'cc': m['Cc'], 'subject': m['Subject'], 'delivered': m['Delivered-To'], 'body': m.get_payload()} for key, m in sorted(box.items())]
print(json.dumps(out))`;
    const read = JSON.parse(await python(script, [server.mailDir, 'bob', 'ann', 'carl', 'extra', 'hidden'])) as Record<
      string,
      Array<Record<string, string | null>>
    >;
    for (const [local, messages] of Object.entries(read)) {
      assert.equal(messages.length, 1, local);
      const [m] = messages;
      assert.equal(m.bcc, null, `${local}: no Bcc header`);
      assert.equal(m.subject, 'with bcc');
      assert.equal(m.cc, 'carl@example.test');
      assert.equal(m.to, '"Bob, B." <bob@example.test>,\n   ann@example.test');
      assert.equal(m.delivered, `${local}@example.test`);
      assert.equal(m.body, 'Body text\n');
    }
    for (const copy of await stored(server, 'hidden@example.test')) assert.ok(!/hidden@/i.test(original(copy)));

    // -t with nothing to find: a usage error, nothing sent.
    const none = await sendmail(['--smtp', smtp, '-t'], 'Subject: nobody\n\nx\n');
    assert.equal(none.code, 64);
    assert.equal(
      none.stderr,
      'test-mail-server sendmail: no recipients: the message has no addresses in To, Cc or Bcc\n',
    );
  });
});

test('-f sets the envelope sender (also -fADDR, -r, <> for the null sender); -F names the From that is added when missing', async () => {
  await withSmtp(async (server, smtp) => {
    assert.equal(
      (
        await sendmail(
          ['--smtp', smtp, '-f', 'bounces@example.test', 'a@example.test'],
          'From: App <app@example.test>\nSubject: 1\n\nx\n',
        )
      ).code,
      0,
    );
    assert.equal(
      (
        await sendmail(
          ['--smtp', smtp, '-fbounces2@example.test', '-F', 'Cron Daemon', 'a@example.test'],
          'Subject: 2\n\nx\n',
        )
      ).code,
      0,
    );
    assert.equal(
      (await sendmail(['--smtp', smtp, '-r', '<bounces3@example.test>', 'a@example.test'], 'Subject: 3\n\nx\n')).code,
      0,
    );
    assert.equal((await sendmail(['--smtp', smtp, '-f', '<>', 'a@example.test'], 'Subject: 4\n\nx\n')).code, 0);
    assert.equal((await sendmail(['--smtp', smtp, 'a@example.test'], 'Subject: 5\n\nx\n', { USER: 'cron' })).code, 0);
    const copies = await stored(server, 'a@example.test');
    assert.deepEqual(
      copies.map((copy) => /^Return-Path: (.*)\r$/m.exec(copy)![1]),
      ['<bounces@example.test>', '<bounces2@example.test>', '<bounces3@example.test>', '<>', '<cron@localhost>'],
    );
    assert.deepEqual(
      copies.map((copy) => /^From: (.*)\r$/m.exec(copy)?.[1]),
      [
        'App <app@example.test>',
        'Cron Daemon <bounces2@example.test>',
        'bounces3@example.test',
        undefined,
        'cron@localhost',
      ],
    );
  });
});

test('dot lines: without -i a lone "." ends the message; with -i or -oi it is kept; leading dots survive dot-stuffing', async () => {
  await withSmtp(async (server, smtp) => {
    const message = 'Subject: dots\n\n.leading dot\n..two dots\n.\nafter the lone dot\n';
    assert.equal((await sendmail(['--smtp', smtp, 'plain@example.test'], message)).code, 0);
    assert.equal((await sendmail(['--smtp', smtp, '-i', 'dash-i@example.test'], message)).code, 0);
    assert.equal((await sendmail(['--smtp', smtp, '-oi', 'dash-oi@example.test'], message)).code, 0);
    const [plain] = await stored(server, 'plain@example.test');
    assert.match(original(plain), /\r\n\r\n\.leading dot\r\n\.\.two dots\r\n$/);
    for (const mailbox of ['dash-i@example.test', 'dash-oi@example.test']) {
      const [copy] = await stored(server, mailbox);
      assert.match(original(copy), /\r\n\r\n\.leading dot\r\n\.\.two dots\r\n\.\r\nafter the lone dot\r\n$/, mailbox);
    }
  });
});

test('the flags PHP, cron and git send-email pass are accepted: sendmail_path = "sendmail -t -i", cron\'s -FCronDaemon -i -B8BITMIME -oem', async () => {
  await withSmtp(async (server, smtp) => {
    const php = await sendmail(
      ['-t', '-i', '-odi', '-oem'],
      'To: php@example.test\nSubject: from php\nX-PHP-Originating-Script: 0:index.php\n\nhi\n',
      { TMS_SMTP: smtp },
    );
    assert.deepEqual(php, { code: 0, stdout: '', stderr: '' });
    const cron = await sendmail(
      ['--smtp', smtp, '-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root'],
      'Subject: Cron <root@host> run-parts\n\noutput\n',
    );
    assert.deepEqual(cron, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(server.store.mailboxes(), ['php@example.test', 'root@localhost']);
    assert.match((await stored(server, 'root@localhost'))[0], /^From: CronDaemon <tester@localhost>\r$/m);
  });
});

test('no server answers: one clear line and exit 69 (EX_UNAVAILABLE)', async () => {
  const port = await freePort();
  const outcome = await sendmail(['--smtp', `127.0.0.1:${port}`, 'bob@example.test'], 'Subject: x\n\nx\n');
  assert.equal(outcome.code, 69);
  assert.equal(outcome.stdout, '');
  assert.equal(
    outcome.stderr,
    `test-mail-server sendmail: cannot connect to 127.0.0.1:${port}: connection refused (is test-mail-server running? point to it with --smtp HOST:PORT)\n`,
  );
  // The same when the default address has no server (TMS_SMTP points at the free port).
  assert.equal((await sendmail(['bob@example.test'], 'x\n', { TMS_SMTP: String(port) })).code, 69);
});

test('a refused recipient: exit 65 (EX_DATAERR) naming it and the reply, the others still get the message; 4xx gives 75; a hang-up 69', async () => {
  await withSmtp(async (server, smtp) => {
    server.chaos.add('rcpt to=bounce@* reply=550 5.1.1 no such user');
    const outcome = await sendmail(
      ['--smtp', smtp, 'ok@example.test', 'bounce@example.test'],
      'Subject: partly\n\nx\n',
    );
    assert.equal(outcome.code, 65);
    assert.equal(outcome.stderr, 'test-mail-server sendmail: <bounce@example.test>: 550 5.1.1 no such user\n');
    assert.deepEqual(server.store.mailboxes(), ['ok@example.test']);

    const all = await sendmail(['--smtp', smtp, 'bounce@example.test'], 'Subject: nobody\n\nx\n');
    assert.equal(all.code, 65);
    assert.deepEqual(inboxNumbers(server.store, 'bounce@example.test'), []);

    server.chaos.add('data times=1 reply=451 4.3.0 try again');
    const later = await sendmail(['--smtp', smtp, 'ok@example.test'], 'Subject: later\n\nx\n');
    assert.equal(later.code, 75);
    assert.equal(later.stderr, 'test-mail-server sendmail: message refused: 451 4.3.0 try again\n');
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1]);

    server.chaos.add('mail times=1 disconnect');
    const dropped = await sendmail(['--smtp', smtp, 'ok@example.test'], 'Subject: dropped\n\nx\n');
    assert.equal(dropped.code, 69);
    assert.equal(dropped.stderr, `test-mail-server sendmail: ${smtp} closed the connection during MAIL\n`);
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1]);
  });
});

test('bad usage: one line with a hint to --help, exit 64 (EX_USAGE), before reading any input; --help documents the flags and exit codes', async () => {
  const cases: Array<[string[], string]> = [
    [[], 'no recipients: name them, or use -t to take them from To, Cc and Bcc (see test-mail-server sendmail --help)'],
    [['-z', 'bob@example.test'], 'unknown option -z (see test-mail-server sendmail --help)'],
    [
      ['-bs'],
      '-bs is not supported (only -bm, deliver a message from standard input) (see test-mail-server sendmail --help)',
    ],
    [
      ['--smtp', 'nowhere:0', 'bob@example.test'],
      '--smtp must be HOST:PORT, such as 127.0.0.1:8025, not "nowhere:0" (see test-mail-server sendmail --help)',
    ],
  ];
  for (const [args, message] of cases) {
    const outcome = await sendmail(args, 'x\n');
    assert.deepEqual(
      outcome,
      { code: 64, stdout: '', stderr: `test-mail-server sendmail: ${message}\n` },
      args.join(' '),
    );
  }
  const help = await sendmail(['--help'], '');
  assert.equal(help.code, 0);
  for (const text of [
    '-t ',
    '-i, -oi',
    '-f SENDER',
    '-F NAME',
    '--smtp HOST:PORT',
    'TMS_SMTP',
    '$USER@localhost',
    '64  EX_USAGE',
    '65  EX_DATAERR',
    '69  EX_UNAVAILABLE',
    '75  EX_TEMPFAIL',
    'sendmail_path',
  ]) {
    assert.ok(help.stdout.includes(text), `--help mentions ${text}`);
  }
});
