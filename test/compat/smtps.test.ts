/** Implicit TLS (SMTPS): the library option `smtpsPort: 0` and the CLI's `--smtps-port 0`, with swaks `--tls-on-connect`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliProcess, RawSmtp, startServer, tempDir } from '../helpers.js';
import { onlyCopy, swaksOk } from './swaks-client.js';

test('implicit TLS: smtpsPort: 0 listens on server.smtpsPort, swaks --tls-on-connect delivers', async () => {
  const server = await startServer({ smtpsPort: 0 });
  try {
    assert.equal(typeof server.smtpsPort, 'number');
    assert.ok(server.smtpsPort! > 0);
    assert.notEqual(server.smtpsPort, server.smtpPort);
    const transcript = await swaksOk(server.smtpsPort!, 'smtps', [
      '--tls-on-connect',
      '--auth',
      'LOGIN',
      '--auth-user',
      'alice',
      '--auth-password',
      's3cret',
    ]);
    // Already encrypted: STARTTLS is not offered again.
    assert.doesNotMatch(transcript, /250[- ]STARTTLS/);
    const copy = await onlyCopy(server.mailDir);
    assert.equal(copy.subject, 'smtps');
    assert.equal(copy.protocol, 'ESMTPSA');

    // smtpsPort alone does not turn on STARTTLS on the plain port.
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    assert.doesNotMatch(await smtp.command('EHLO raw.test'), /STARTTLS/);
    smtp.close();
  } finally {
    await server.close();
  }
});

test('implicit TLS through the CLI: --smtps-port 0, swaks --tls-on-connect without AUTH is stored as ESMTPS', async () => {
  const mailDir = await tempDir();
  const cli = CliProcess.start([mailDir, '--smtp-port', '0', '--smtps-port', '0']);
  try {
    const port = Number((await cli.waitForLog(/SMTPS listening on [^\s]+:(\d+)/))[1]);
    await swaksOk(port, 'cli-smtps', ['--tls-on-connect']);
    const copy = await onlyCopy(mailDir);
    assert.equal(copy.subject, 'cli-smtps');
    assert.equal(copy.protocol, 'ESMTPS');
  } finally {
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0, cli.stderr);
  }
});
