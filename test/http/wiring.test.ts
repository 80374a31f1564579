/** The HTTP API in the library: off unless asked for, on a free port with 0, and a taken port fails the start cleanly. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { PortInUseError, startTestMailServer } from '../../src/index.js';
import { freePort, tempDir } from '../helpers.js';

test('without httpPort there is no HTTP server; with 0 it listens on a free port and logs it at INFO', async () => {
  const quiet = await startTestMailServer();
  assert.deepEqual([quiet.httpPort, quiet.httpUrl], [undefined, undefined]);
  await quiet.close();
  const lines: string[] = [];
  const mail = await startTestMailServer({ httpPort: 0, logLevel: 'info', logWriter: (line) => lines.push(line) });
  try {
    assert.ok(mail.httpPort! > 0);
    assert.equal(mail.httpUrl, `http://127.0.0.1:${mail.httpPort}`);
    assert.ok(lines.some((line) => line.endsWith(` INFO HTTP listening on 127.0.0.1:${mail.httpPort}\n`)));
    assert.equal((await fetch(`${mail.httpUrl}/livez`)).status, 200);
  } finally {
    await mail.close();
  }
  await assert.rejects(fetch(`${mail.httpUrl}/livez`), 'closed with the server');
});

test('an HTTP port in use is a PortInUseError naming http, and leaves nothing behind', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as net.AddressInfo).port;
  const smtpPort = await freePort();
  const parent = await tempDir();
  const mailDir = path.join(parent, 'mail');
  try {
    const error = await startTestMailServer({ mailDir, smtpPort, httpPort: taken }).then(
      () => assert.fail('started'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof PortInUseError);
    assert.deepEqual(
      [error.listener, error.host, error.port, error.code],
      ['http', '127.0.0.1', taken, 'TMS_PORT_IN_USE'],
    );
    // The SMTP port is free again, and the MAIL_DIR the start made is gone.
    const again = net.createServer();
    await new Promise<void>((resolve) => again.listen(smtpPort, '127.0.0.1', resolve));
    await new Promise((resolve) => again.close(resolve));
    assert.deepEqual(readdirSync(parent), []);
  } finally {
    blocker.close();
  }
});
