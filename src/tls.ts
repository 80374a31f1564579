/** The TLS identity for STARTTLS and SMTPS: the user's PEM files, or a self-signed one made in memory. */
import { readFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import type { ErrorCode } from './errors.js';

export interface TlsFiles {
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

/** PEM certificate and key, as both `tls.createServer` and `tls.createSecureContext` take them. */
export interface TlsCredentials {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** A certificate without its key (or the reverse), a file that cannot be read, or a pair TLS cannot use. */
export class TlsFilesError extends Error {
  override readonly name = 'TlsFilesError';
  readonly code = 'TMS_TLS_FILES' satisfies ErrorCode;
}

export async function loadTlsCredentials({ certFile, keyFile }: TlsFiles): Promise<TlsCredentials> {
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined || keyFile === undefined)
      throw new TlsFilesError(
        `A TLS certificate needs its private key: only the ${certFile ? 'certificate' : 'key'} file was given`,
      );
    const [cert, key] = await Promise.all([readPem('certificate', certFile), readPem('private key', keyFile)]);
    try {
      // Fails here, at start, on a key that does not match its certificate.
      tls.createSecureContext({ cert, key });
    } catch (error) {
      const reason = (error as Error).message;
      throw new TlsFilesError(`TLS cannot use the certificate ${certFile} with the key ${keyFile}: ${reason}`, {
        cause: error,
      });
    }
    return { cert, key };
  }
  // EC keys generate in a millisecond where RSA-2048 takes a noticeable part of start-up.
  // Loaded only when needed: it costs start-up time and memory that plain-SMTP users never use.
  const { default: selfsigned } = await import('selfsigned');
  const generated = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: generated.cert, key: generated.private };
}

async function readPem(what: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new TlsFilesError(`Cannot read the TLS ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
