/** The sendmail pieces without sockets: the command line, reading stdin, header edits, dot-stuffing. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { parseSendmailArgs, parseSmtpAddress, SendmailUsageError } from '../../src/sendmail/args.js';
import { dataPayload, parseAddresses, prepareMessage, readMessageLines } from '../../src/sendmail/message.js';

test('parseSendmailArgs: -t, -i/-oi, -f/-r in both forms, -F, recipients anywhere, --, ignored MTA flags', () => {
  const base = {
    help: false,
    extractRecipients: false,
    ignoreDots: false,
    sender: undefined,
    fullName: undefined,
    verbose: false,
    smtp: { host: '127.0.0.1', port: 8025 },
  };
  assert.deepEqual(parseSendmailArgs(['bob@x.test']), { ...base, recipients: ['bob@x.test'] });
  assert.deepEqual(parseSendmailArgs(['-t', '-i']), {
    ...base,
    extractRecipients: true,
    ignoreDots: true,
    recipients: [],
  });
  assert.deepEqual(parseSendmailArgs(['-ti']), { ...base, extractRecipients: true, ignoreDots: true, recipients: [] });
  assert.deepEqual(parseSendmailArgs(['-oi']), { ...base, ignoreDots: true, recipients: [] });
  assert.deepEqual(parseSendmailArgs(['-f', 'ann@x.test', 'bob@x.test']).sender, 'ann@x.test');
  assert.deepEqual(parseSendmailArgs(['-fann@x.test']).sender, 'ann@x.test');
  assert.deepEqual(parseSendmailArgs(['-r', '<ann@x.test>']).sender, 'ann@x.test');
  assert.deepEqual(parseSendmailArgs(['-f', '<>']).sender, '');
  assert.deepEqual(parseSendmailArgs(['-f', '']).sender, '');
  assert.deepEqual(parseSendmailArgs(['-tif', 'ann@x.test']), {
    ...base,
    extractRecipients: true,
    ignoreDots: true,
    sender: 'ann@x.test',
    recipients: [],
  });
  assert.deepEqual(parseSendmailArgs(['-F', 'Cron Daemon', '-FCron']).fullName, 'Cron');
  assert.deepEqual(parseSendmailArgs(['bob@x.test', '-v', '--', '-odd@x.test']), {
    ...base,
    verbose: true,
    recipients: ['bob@x.test', '-odd@x.test'],
  });
  // What cron, PHP and git send-email pass: accepted, and only -i / -oi change anything.
  assert.deepEqual(parseSendmailArgs(['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root']), {
    ...base,
    fullName: 'CronDaemon',
    ignoreDots: true,
    recipients: ['root'],
  });
  assert.deepEqual(
    parseSendmailArgs([
      '-odi',
      '-oem',
      '-om',
      '-bm',
      '-N',
      'never',
      '-R',
      'hdrs',
      '-V',
      'envid',
      '-X',
      '/tmp/log',
      '-O',
      'x=y',
      '-C',
      'cf',
      '-h',
      '10',
      '-L',
      'tag',
      '-U',
      '-G',
      '-n',
      '-m',
      '-c',
      '-s',
      'bob@x.test',
    ]),
    { ...base, recipients: ['bob@x.test'] },
  );
  assert.equal(parseSendmailArgs(['--help']).help, true);
});

test('parseSendmailArgs: --smtp and TMS_SMTP; bad usage throws SendmailUsageError', () => {
  assert.deepEqual(parseSendmailArgs(['--smtp', 'mail.test:2525']).smtp, { host: 'mail.test', port: 2525 });
  assert.deepEqual(parseSendmailArgs(['--smtp=2526']).smtp, { host: '127.0.0.1', port: 2526 });
  assert.deepEqual(parseSendmailArgs([], { TMS_SMTP: '127.0.0.2:2527' }).smtp, { host: '127.0.0.2', port: 2527 });
  assert.deepEqual(parseSendmailArgs(['--smtp', 'localhost:1'], { TMS_SMTP: '127.0.0.2:2527' }).smtp, {
    host: 'localhost',
    port: 1,
  });
  assert.deepEqual(parseSmtpAddress('[::1]:2525'), { host: '::1', port: 2525 });
  assert.deepEqual(parseSmtpAddress('::1'), { host: '::1', port: 8025 });
  assert.deepEqual(parseSmtpAddress('mail.test'), { host: 'mail.test', port: 8025 });
  assert.deepEqual(parseSmtpAddress(undefined), { host: '127.0.0.1', port: 8025 });
  const bad: Array<[string[], RegExp]> = [
    [['--smtp', 'host:99999'], /^--smtp must be HOST:PORT, such as 127\.0\.0\.1:8025, not "host:99999"$/],
    [['--smtp', 'a b:1'], /^--smtp must be HOST:PORT/],
    [['--smtp'], /^--smtp needs HOST:PORT$/],
    [['--frobnicate'], /^unknown option --frobnicate$/],
    [['--smpt', '127.0.0.1:25'], /^unknown option --smpt; did you mean --smtp\?$/],
    [['--hlep'], /^unknown option --hlep; did you mean --help\?$/],
    [['-z'], /^unknown option -z$/],
    [['-f'], /^-f needs a value$/],
    [['-bs'], /^-bs is not supported \(only -bm/],
    [['-bp'], /^-bp is not supported/],
    [['-q'], /^-q \(queue runs\) is not supported/],
  ];
  for (const [args, message] of bad) {
    assert.throws(
      () => parseSendmailArgs(args),
      (error: unknown) => error instanceof SendmailUsageError && message.test(error.message),
      args.join(' '),
    );
  }
});

test('readMessageLines: LF or CRLF, lines split across chunks, a last line without newline; "." ends input unless -i', async () => {
  const read = (chunks: string[], ignoreDots: boolean) =>
    readMessageLines(Readable.from(chunks.map((c) => Buffer.from(c, 'latin1'))), ignoreDots);
  assert.deepEqual(await read(['Subject: a\nX: b\r', '\n\r\nbo', 'dy\nlast'], false), [
    'Subject: a',
    'X: b',
    '',
    'body',
    'last',
  ]);
  assert.deepEqual(await read(['a\n.\nafter the dot\n'], false), ['a']);
  assert.deepEqual(await read(['a\r\n.\r\nafter\r\n'], false), ['a']);
  assert.deepEqual(await read(['a\n.'], false), ['a']);
  assert.deepEqual(await read(['a\n.\nafter the dot\n'], true), ['a', '.', 'after the dot']);
  assert.deepEqual(await read(['a\n..\n.x\n'], false), ['a', '..', '.x']);
  assert.deepEqual(await read([], false), []);
  // Bytes pass through: latin1 strings hold one character per byte.
  const utf8 = await readMessageLines(Readable.from([Buffer.from('Grüße\n', 'utf8')]), false);
  assert.equal(Buffer.from(utf8[0], 'latin1').toString('utf8'), 'Grüße');

  // Without -i, input after the "." is not even read.
  let pulled = 0;
  const endless = Readable.from(
    (function* () {
      for (;;) {
        pulled++;
        yield Buffer.from(pulled === 1 ? 'one\n.\n' : 'more\n');
        if (pulled > 1000) throw new Error('kept reading');
      }
    })(),
  );
  assert.deepEqual(await readMessageLines(endless, false), ['one']);
  assert.ok(pulled < 10);
});

test('prepareMessage: -t collects To, Cc and Bcc (folded, grouped, named); Bcc is removed; From added only when missing', () => {
  const lines = [
    'From: App <app@example.test>',
    'To: "Bob, B." <bob@example.test>,',
    '  ann@example.test (Ann)',
    'Cc: team: carl@example.test, dora@example.test;',
    'BCC: secret@example.test,',
    '\troot',
    'Subject: hi',
    '',
    'To: not-a-header@example.test',
    'Bcc: also body',
  ];
  const prepared = prepareMessage(lines, { extractRecipients: true, sender: 'app@example.test', fullName: undefined });
  assert.deepEqual(prepared.headerRecipients, [
    'bob@example.test',
    'ann@example.test',
    'carl@example.test',
    'dora@example.test',
    'secret@example.test',
    'root@localhost',
  ]);
  assert.deepEqual(prepared.lines, [
    'From: App <app@example.test>',
    'To: "Bob, B." <bob@example.test>,',
    '  ann@example.test (Ann)',
    'Cc: team: carl@example.test, dora@example.test;',
    'Subject: hi',
    '',
    'To: not-a-header@example.test',
    'Bcc: also body',
  ]);
  // Without -t the header is not read for recipients, but Bcc still goes.
  const plain = prepareMessage(lines, { extractRecipients: false, sender: 'app@example.test', fullName: undefined });
  assert.deepEqual(plain.headerRecipients, []);
  assert.deepEqual(plain.lines, prepared.lines);

  assert.deepEqual(
    prepareMessage(['Subject: x', '', 'b'], { extractRecipients: false, sender: 'ann@x.test', fullName: 'Ann Example' })
      .lines,
    ['Subject: x', 'From: Ann Example <ann@x.test>', '', 'b'],
  );
  assert.deepEqual(
    prepareMessage(['Subject: x', '', 'b'], {
      extractRecipients: false,
      sender: 'ann@x.test',
      fullName: 'Example, Ann',
    }).lines[1],
    'From: "Example, Ann" <ann@x.test>',
  );
  assert.deepEqual(
    prepareMessage(['Subject: x', '', 'b'], { extractRecipients: false, sender: 'ann@x.test', fullName: undefined })
      .lines[1],
    'From: ann@x.test',
  );
  // The null sender: nothing to put in From.
  assert.deepEqual(
    prepareMessage(['Subject: x', '', 'b'], { extractRecipients: false, sender: '', fullName: undefined }).lines,
    ['Subject: x', '', 'b'],
  );
  // An mbox "From " line is dropped; a body without a header gets the separating empty line.
  assert.deepEqual(
    prepareMessage(['From app Mon Jan  1 00:00:00 2024', 'Subject: x', '', 'b'], {
      extractRecipients: false,
      sender: '',
      fullName: undefined,
    }).lines,
    ['Subject: x', '', 'b'],
  );
  assert.deepEqual(
    prepareMessage(['just a body line', 'Subject: not a header'], {
      extractRecipients: false,
      sender: 'a@x.test',
      fullName: undefined,
    }).lines,
    ['From: a@x.test', '', 'just a body line', 'Subject: not a header'],
  );
  assert.deepEqual(
    prepareMessage(['Subject: x', 'body right after'], { extractRecipients: false, sender: '', fullName: undefined })
      .lines,
    ['Subject: x', '', 'body right after'],
  );
});

test('parseAddresses reads lists and bare local names; dataPayload uses CRLF, doubles leading dots and ends with "."', () => {
  assert.deepEqual(parseAddresses('bob@x.test, "Ann" <ann@y.test>'), ['bob@x.test', 'ann@y.test']);
  assert.deepEqual(parseAddresses('root'), ['root@localhost']);
  assert.deepEqual(parseAddresses('undisclosed-recipients:;'), []);
  assert.equal(
    dataPayload(['Subject: x', '', '.hidden', '..two', '.', 'end']).toString('latin1'),
    'Subject: x\r\n\r\n..hidden\r\n...two\r\n..\r\nend\r\n.\r\n',
  );
  assert.equal(dataPayload([]).toString('latin1'), '.\r\n');
});
