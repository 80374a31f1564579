/** The TLS identity for STARTTLS and SMTPS: the user's PEM files, or a self-signed one made in memory. */
import { readFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import selfsigned from 'selfsigned';

export interface TlsFiles {
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

export async function loadTlsContext({ certFile, keyFile }: TlsFiles): Promise<tls.SecureContext> {
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined || keyFile === undefined) throw new Error('--tls-cert and --tls-key go together');
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    return tls.createSecureContext({ cert, key });
  }
  // EC keys generate in a millisecond where RSA-2048 takes a noticeable part of start-up.
  const generated = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return tls.createSecureContext({ cert: generated.cert, key: generated.private });
}
