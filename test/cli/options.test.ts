/** The command-line parser on its own, in memory: arguments and environment in, library options or one usage line out. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { helpText, optionSpecs, parseCommandLine, UsageError, type OptionName } from '../../src/cli/options.js';
import { cliDefaults, defaults } from '../../src/defaults.js';
import { tempDir } from '../helpers.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseCommandLine(argv, env);
  assert.equal(parsed.kind, 'run');
  return parsed;
}

function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error.message;
  }
  assert.fail(`${argv.join(' ')} was accepted`);
}

test('with nothing given: ./mail and the defaults from defaults.ts, SMTP on 8025', () => {
  const { options, logLevel, warnings } = run([]);
  assert.deepEqual(options, {
    mailDir: cliDefaults.mailDir,
    host: defaults.host,
    smtpPort: cliDefaults.smtpPort,
    smtpsPort: undefined,
    maxMessageSize: defaults.maxMessageSize,
    tls: false,
    tlsCert: undefined,
    tlsKey: undefined,
    chaos: [],
    httpPort: cliDefaults.httpPort,
    httpAuth: [],
    corsOrigin: undefined,
    smtpRelay: undefined,
    smtpRelayAllow: [],
  });
  assert.equal(logLevel, 'info');
  assert.deepEqual(warnings, []);
});

test('every option becomes its library option; the command line wins over the environment', () => {
  const { options } = run(
    [
      'box',
      '--host=::1',
      '--smtp-port',
      '2525',
      '--smtps-port',
      '4465',
      '--max-message-size',
      '1000',
      '--tls',
      '--tls-cert',
      'c.pem',
      '--tls-key',
      'k.pem',
      '--chaos',
      'rcpt times=1 reply=450 4.2.0 later',
      '--http-port',
      '0',
      '--ui-auth',
      'ann:pass:word',
      '--cors',
      'https://app.test:3000',
      '--smtp-relay',
      'smtp://127.0.0.1:2525',
      '--smtp-relay-allow',
      '*@example.test',
      '--smtp-relay-allow',
      '/^ops@/',
    ],
    { MAIL_DIR: 'elsewhere', TMS_SMTP_PORT: '1', TMS_HOST: '0.0.0.0', TMS_HTTP_PORT: '1' },
  );
  assert.deepEqual(
    { ...options, chaos: options.chaos?.length },
    {
      mailDir: 'box',
      host: '::1',
      smtpPort: 2525,
      smtpsPort: 4465,
      maxMessageSize: 1000,
      tls: true,
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      chaos: 1,
      httpPort: 0,
      httpAuth: [{ username: 'ann', password: 'pass:word' }],
      corsOrigin: 'https://app.test:3000',
      smtpRelay: 'smtp://127.0.0.1:2525',
      smtpRelayAllow: ['*@example.test', '/^ops@/'],
    },
  );
});

test('--smtp-relay takes smtp://host:port; the allow-list comes one pattern a line from the environment', () => {
  assert.equal(
    usageError(['--smtp-relay', 'mail.test:25']),
    '--smtp-relay must be smtp://host:port, not "mail.test:25"',
  );
  assert.deepEqual(run([], { TMS_SMTP_RELAY_ALLOW: '*@a.test\n\n/^b@/i\n' }).options.smtpRelayAllow, [
    '*@a.test',
    '/^b@/i',
  ]);
});

test('--ui-auth-file gives a user per USER:PASSWORD line, beside --ui-auth; blank and # lines are skipped', async () => {
  const file = path.join(await tempDir(), 'users');
  await writeFile(file, '# testers\nann:s3cret\n\nbob:x:y\r\n');
  assert.deepEqual(run(['--ui-auth', 'carl:c', '--ui-auth-file', file]).options.httpAuth, [
    { username: 'carl', password: 'c' },
    { username: 'ann', password: 's3cret' },
    { username: 'bob', password: 'x:y' },
  ]);
  await writeFile(file, 'ann:s3cret\nno colon here\n');
  assert.equal(
    usageError(['--ui-auth-file', file]),
    `--ui-auth-file ${file} line 2 must be USER:PASSWORD, not "no colon here"`,
  );
  await writeFile(file, '# nobody\n');
  assert.equal(usageError(['--ui-auth-file', file]), `--ui-auth-file ${file} has no USER:PASSWORD line`);
  assert.equal(
    usageError(['--ui-auth-file', `${file}-missing`]),
    `--ui-auth-file ${file}-missing cannot be read: ENOENT`,
  );
});

test('--ui-auth needs USER:PASSWORD and --cors an origin', () => {
  assert.equal(usageError(['--ui-auth', 'ann']), '--ui-auth must be USER:PASSWORD, not "ann"');
  assert.equal(usageError(['--ui-auth', ':pw']), '--ui-auth must be USER:PASSWORD, not ":pw"');
  assert.equal(
    usageError(['--cors', 'app.test']),
    '--cors must be an origin such as https://app.test:3000, not "app.test"',
  );
  assert.equal(
    usageError(['--cors', 'https://app.test/path']),
    '--cors must be an origin such as https://app.test:3000, not "https://app.test/path"',
  );
  assert.equal(run(['--cors', 'https://app.test/']).options.corsOrigin, 'https://app.test');
});

test('a host other than loopback without --ui-auth is a warning that the API is open to the network', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost'])
    assert.deepEqual(run(['--host', host]).warnings, []);
  assert.deepEqual(run(['--host', '0.0.0.0']).warnings, [
    'The HTTP API on 0.0.0.0 is open to the network without a password: give --ui-auth or --ui-auth-file',
  ]);
  assert.deepEqual(run(['--host', '0.0.0.0', '--ui-auth', 'a:b']).warnings, []);
});

test('the environment sets what the command line leaves out; an empty variable counts as unset', () => {
  const { options } = run([], {
    MAIL_DIR: 'from-env',
    TMS_SMTP_PORT: '0',
    TMS_TLS: 'yes',
    TMS_HOST: '',
    TMS_CHAOS: 'connect delay=1\n# a comment\n\nhelo disconnect',
  });
  assert.equal(options.mailDir, 'from-env');
  assert.equal(options.smtpPort, 0);
  assert.equal(options.tls, true);
  assert.equal(options.host, defaults.host);
  assert.equal(options.chaos?.length, 2);
});

test('an unknown option names itself and the closest valid option, if one is close', () => {
  for (const [argv, message] of [
    [['--smtp-prot', '25'], 'unknown option --smtp-prot; did you mean --smtp-port?'],
    [['--smtp-prot=25'], 'unknown option --smtp-prot; did you mean --smtp-port?'],
    [['--smtpport'], 'unknown option --smtpport; did you mean --smtp-port?'],
    [['--SMTP-PORT', '25'], 'unknown option --SMTP-PORT; did you mean --smtp-port?'],
    [['--tls-crt', 'c.pem'], 'unknown option --tls-crt; did you mean --tls-cert?'],
    [['-help'], 'unknown option -help; did you mean --help?'],
    [['--frobnicate'], 'unknown option --frobnicate'],
    [['-x'], 'unknown option -x'],
  ] as const) {
    assert.equal(usageError([...argv]), message);
  }
});

test('an option without its value, or a switch given one, says how it is written', () => {
  assert.equal(usageError(['--smtp-port']), '--smtp-port needs a value: --smtp-port PORT');
  assert.equal(usageError(['--smtp-port', '--tls']), '--smtp-port needs a value: --smtp-port PORT');
  assert.equal(usageError(['--tls=yes']), '--tls takes no value');
});

test('a bad value names where it came from: the option or the environment variable', () => {
  assert.equal(usageError(['--smtp-port', '70000']), '--smtp-port must be a port number from 0 to 65535, not "70000"');
  assert.equal(usageError(['--smtp-port', '-1']), '--smtp-port must be a port number from 0 to 65535, not "-1"');
  assert.equal(usageError([], { TMS_SMTP_PORT: 'x' }), 'TMS_SMTP_PORT must be a port number from 0 to 65535, not "x"');
  assert.equal(usageError([], { TMS_TLS: 'maybe' }), 'TMS_TLS must be true or false, not "maybe"');
  assert.equal(usageError(['--max-message-size', '0']), '--max-message-size must be a positive whole number, not "0"');
  assert.equal(usageError(['--http-port', 'web']), '--http-port must be a port number from 0 to 65535, not "web"');
  assert.match(usageError(['--chaos', 'rcpt explode']), /^--chaos 'rcpt explode': /);
  assert.equal(usageError(['--tls-key', 'k.pem']), '--tls-cert and --tls-key go together');
  assert.equal(usageError(['a', 'b']), 'expected one MAIL_DIR, got 2: a b');
});

test('--help, -h and --version win over the rest of a valid command line', () => {
  assert.deepEqual(parseCommandLine(['box', '--help'], {}), { kind: 'help' });
  assert.deepEqual(parseCommandLine(['-h'], {}), { kind: 'help' });
  assert.deepEqual(parseCommandLine(['--version', '--smtp-port', '1'], {}), { kind: 'version' });
});

test('an unknown LOG_LEVEL is a warning, and INFO is used', () => {
  assert.equal(run([], { LOG_LEVEL: 'Warn' }).logLevel, 'warning');
  const { logLevel, warnings } = run([], { LOG_LEVEL: 'chatty' });
  assert.equal(logLevel, 'info');
  assert.deepEqual(warnings, ['Unknown LOG_LEVEL "chatty" (use DEBUG, INFO, WARNING or ERROR); using INFO']);
});

test('--help has a line for every option of the table, with its value, default and variable', () => {
  const help = helpText();
  for (const [name, spec] of Object.entries(optionSpecs) as [OptionName, (typeof optionSpecs)[OptionName]][]) {
    const line = help.split('\n').find((text) => new RegExp(`^  (?:-\\w, )?--${name}\\b`).test(text));
    assert.ok(line, `--help lists --${name}`);
    if ('value' in spec) assert.ok(line.includes(`--${name} ${spec.value}`), line);
    if ('default' in spec) assert.ok(line.includes(`(default ${spec.default})`), line);
    if ('env' in spec) assert.ok(line.endsWith(`[${spec.env}]`), line);
  }
});

test('--help sets every option in one column, each help text at least two spaces after its flag', () => {
  const rows = helpText()
    .split('\n')
    .filter((line) => /^ {2}(-\w, )?--[a-z]/.test(line));
  assert.equal(rows.length, Object.keys(optionSpecs).length);
  const starts = rows.map((row) => /^ {2}\S+(?: \S+)*? {2,}(?=\S)/.exec(row)?.[0].length);
  assert.ok(
    starts.every((start) => start !== undefined && start === starts[0]),
    rows.join('\n'),
  );
});
