/**
 * Every error the HTTP API answers with, each with a stable code and its status (the catalogue is
 * `httpErrorCodes` in src/errors.ts): the body is `{ Error, code }` (Mailpit's `Error` field, so
 * its clients show the text as they do Mailpit's).
 */
import { httpErrorCodes, type HttpErrorCode } from '../errors.js';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;

  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
    this.status = httpErrorCodes[code];
  }
}

export interface ErrorBody {
  readonly Error: string;
  readonly code: string;
}

/** The reply for any error a route or Fastify raised: ours as they are, the framework's mapped by their status. */
export function errorReply(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) return { status: error.status, body: { Error: error.message, code: error.code } };
  const { statusCode, code, message } = error as { statusCode?: number; code?: string; message?: string };
  if (code === 'TMS_FLAG_NAME') return { status: 400, body: { Error: message ?? 'bad tag name', code } };
  if (statusCode === 413) return { status: 413, body: { Error: 'Request body is too large', code: 'TMS_TOO_LARGE' } };
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500)
    return { status: 400, body: { Error: message ?? 'Bad request', code: 'TMS_BAD_REQUEST' } };
  return { status: 500, body: { Error: 'Internal error', code: 'TMS_INTERNAL' } };
}

export const notFound = () => new HttpError('TMS_NOT_FOUND', 'Message not found');

export const relayNotEnabled = () =>
  new HttpError('TMS_NOT_ENABLED', 'Releasing is not enabled: the server has no SMTP relay configured');
