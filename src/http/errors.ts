/**
 * Every error the HTTP API answers with, each with a stable code and a status: the body is
 * `{ Error, code }` (Mailpit's `Error` field, so its clients show the text as they do Mailpit's).
 */

export const httpErrorCodes = {
  TMS_NOT_FOUND: 404,
  TMS_BAD_REQUEST: 400,
  TMS_FLAG_NAME: 400,
  TMS_UNAUTHORIZED: 401,
  TMS_ORIGIN: 403,
  TMS_TOO_LARGE: 413,
  TMS_UNSUPPORTED_MEDIA_TYPE: 415,
  TMS_NOT_READY: 503,
  TMS_NOT_ENABLED: 400,
  TMS_INTERNAL: 500,
} as const;

export type HttpErrorCode = keyof typeof httpErrorCodes;

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
  if (statusCode === 415) return { status: 415, body: { Error: message ?? '', code: 'TMS_UNSUPPORTED_MEDIA_TYPE' } };
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500)
    return { status: 400, body: { Error: message ?? 'Bad request', code: 'TMS_BAD_REQUEST' } };
  return { status: 500, body: { Error: 'Internal error', code: 'TMS_INTERNAL' } };
}

export const notFound = () => new HttpError('TMS_NOT_FOUND', 'Message not found');
