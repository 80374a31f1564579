/**
 * TLS and AUTH with real clients: swaks and nodemailer over STARTTLS (library `tls: true` and
 * CLI `--tls`), and plain text when TLS is off. Implicit TLS (`smtpsPort`) is in smtps.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, RawSmtp, startServer, tempDir } from '../helpers.js';
import { sendWithNodemailer } from './clients.js';
import { from, onlyCopy, swaks, swaksOk, to } from './swaks-client.js';

for (const mechanism of ['PLAIN', 'LOGIN', 'CRAM-MD5']) {
  test(`swaks STARTTLS + AUTH ${mechanism} (library tls: true) is stored as ESMTPSA`, async () => {
    const server = await startServer({ tls: true });
    try {
      const transcript = await swaksOk(server.smtpPort, `starttls-${mechanism}`, [
        '--tls',
        '--auth',
        mechanism,
        '--auth-user',
        'alice',
        '--auth-password',
        's3cret',
      ]);
      assert.match(transcript, /250[- ]STARTTLS/);
      assert.match(transcript, /<~ {1,2}235 /, 'AUTH succeeded inside TLS');
      const copy = await onlyCopy(server.mailDir);
      assert.equal(copy.subject, `starttls-${mechanism}`);
      assert.match(copy.text, new RegExp(`Body of starttls-${mechanism}`));
      assert.equal(copy.protocol, 'ESMTPSA');
    } finally {
      await server.close();
    }
  });
}

test('swaks STARTTLS + AUTH through the CLI with --tls is stored as ESMTPSA; SIGTERM exits 0', async () => {
  const mailDir = await tempDir();
  const { cli, port } = await CliProcess.listening(mailDir, ['--tls']);
  try {
    assert.match(cli.stderr, /STARTTLS offered/);
    await swaksOk(port, 'cli-tls', ['--tls', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 's3cret']);
    const copy = await onlyCopy(mailDir);
    assert.equal(copy.subject, 'cli-tls');
    assert.equal(copy.protocol, 'ESMTPSA');
  } finally {
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0, cli.stderr);
  }
});

test('nodemailer with requireTLS, a self-signed certificate accepted, and auth (tls: true) is stored as ESMTPSA', async () => {
  const server = await startServer({ tls: true });
  try {
    const sent = await sendWithNodemailer(
      server.smtpPort,
      { from, to: [to], subject: 'nodemailer-starttls', text: 'Over TLS.\r\n' },
      { requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice', pass: 's3cret' } },
    );
    assert.deepEqual(sent.info.accepted, [to]);
    const copy = await onlyCopy(server.mailDir);
    assert.equal(copy.subject, 'nodemailer-starttls');
    assert.equal(copy.protocol, 'ESMTPSA');
  } finally {
    await server.close();
  }
});

test('without TLS: no STARTTLS in EHLO, swaks --tls fails, nodemailer with defaults sends in plain text', async () => {
  const server = await startServer();
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    assert.match(await smtp.reply(), /^220 /);
    const ehlo = await smtp.command('EHLO raw.test');
    assert.doesNotMatch(ehlo, /STARTTLS/);
    assert.match(ehlo, /^250 AUTH /m);
    assert.match(await smtp.command('STARTTLS'), /^502 /);
    await smtp.command('QUIT');
    smtp.close();

    const refused = await swaks(server.smtpPort, 'swaks-no-tls', ['--tls']);
    assert.notEqual(refused.code, 0, `swaks --tls should fail:\n${refused.stdout}`);
    assert.equal(existsSync(path.join(server.mailDir, 'example.test')), false, 'nothing stored');

    const sent = await sendWithNodemailer(server.smtpPort, {
      from,
      to: [to],
      subject: 'nodemailer-plain',
      text: 'In the clear.\r\n',
    });
    assert.deepEqual(sent.info.accepted, [to]);
    const copy = await onlyCopy(server.mailDir);
    assert.equal(copy.subject, 'nodemailer-plain');
    assert.equal(copy.protocol, 'ESMTP');
  } finally {
    await server.close();
  }
});
