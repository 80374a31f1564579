/** The user's TLS files (`tlsCert`, `tlsKey`): every way they can be wrong is a TlsFilesError raised before MAIL_DIR is touched. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import selfsigned from 'selfsigned';
import { startTestMailServer, TlsFilesError } from '../../src/index.js';
import { tempDir } from '../helpers.js';

/** A certificate and key that belong together, written to `folder` as `<name>.crt` and `<name>.key`. */
async function writePair(folder: string, name: string): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec' });
  const files = { cert: path.join(folder, `${name}.crt`), key: path.join(folder, `${name}.key`) };
  await writeFile(files.cert, pems.cert);
  await writeFile(files.key, pems.private);
  return files;
}

test('a TLS file that cannot be read fails the start with its name, and the missing MAIL_DIR is not created', async () => {
  const folder = await tempDir();
  const { key } = await writePair(folder, 'good');
  const mailDir = path.join(folder, 'mail');
  const missing = path.join(folder, 'missing.crt');
  await assert.rejects(startTestMailServer({ mailDir, tlsCert: missing, tlsKey: key }), (error: Error) => {
    assert.ok(error instanceof TlsFilesError);
    assert.equal(error.message, `Cannot read the TLS certificate ${missing}: ${(error.cause as Error).message}`);
    return true;
  });
  assert.equal(existsSync(mailDir), false);
});

test('a key that does not belong to the certificate fails the start naming both files', async () => {
  const folder = await tempDir();
  const one = await writePair(folder, 'one');
  const other = await writePair(folder, 'other');
  await assert.rejects(
    startTestMailServer({ mailDir: path.join(folder, 'mail'), tlsCert: one.cert, tlsKey: other.key }),
    (error: Error) => {
      assert.ok(error instanceof TlsFilesError);
      assert.ok(error.message.startsWith(`TLS cannot use the certificate ${one.cert} with the key ${other.key}: `));
      return true;
    },
  );
});

test('a certificate without its key, or a key without its certificate, is refused', async () => {
  const folder = await tempDir();
  const { cert, key } = await writePair(folder, 'pair');
  const mailDir = path.join(folder, 'mail');
  await assert.rejects(startTestMailServer({ mailDir, tlsCert: cert }), {
    name: 'TlsFilesError',
    message: 'A TLS certificate needs its private key: only the certificate file was given',
  });
  await assert.rejects(startTestMailServer({ mailDir, tlsKey: key }), {
    name: 'TlsFilesError',
    message: 'A TLS certificate needs its private key: only the key file was given',
  });
  assert.equal(existsSync(mailDir), false);
});
