import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { DomainError } from '../core/errors.js';
import type { Logger } from '../logger.js';

export type ErrorCode =
  | 'invalid_json'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'validation_failed'
  | 'too_deep'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** An error the API answers with as is: `{"error": {code, message, details}}` under `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details: unknown = null) => new HttpError(409, 'conflict', message, details);
export const unprocessable = (message: string, details: unknown = null) => new HttpError(422, 'validation_failed', message, details);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);

export function zodIssues(error: ZodError, location: 'body' | 'query' | 'path' | 'headers') {
  return error.issues.map((issue) => ({
    field: [location, ...issue.path].join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

export function validationError(error: ZodError, location: 'body' | 'query' | 'path' | 'headers'): HttpError {
  const issues = zodIssues(error, location);
  const first = issues[0];
  return new HttpError(422, 'validation_failed', first ? `${first.field}: ${first.message}` : 'invalid request', issues);
}

/** Postgres and Temporal being down is not Herald's bug: the client may retry (503). */
export function isDependencyUnavailable(error: unknown): boolean {
  const err = error as { code?: string; name?: string; message?: string };
  if (!err || typeof err !== 'object') return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P03', '53300', '08006', '08001'].includes(err.code ?? '')) return true;
  if (err.name === 'ServiceError' || err.name === 'ConnectionError' || err.name === 'TransportError') return true;
  return /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED/.test(err.message ?? '');
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, request, response, _next) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500) {
      logger.error({ err: error, method: request.method, path: request.path }, 'request failed');
    }
    if (httpError.status === 503) response.setHeader('retry-after', '5');
    if (response.headersSent) return;
    response.status(httpError.status).json({ error: { code: httpError.code, message: httpError.message, details: httpError.details } });
  };
}

export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof DomainError) return fromDomainError(error);
  if (error instanceof ZodError) return validationError(error, 'body');
  const bodyError = error as { type?: string; status?: number; limit?: number };
  if (bodyError?.type === 'entity.parse.failed') return new HttpError(400, 'invalid_json', 'The request body is not valid JSON');
  if (bodyError?.type === 'entity.too.large') return new HttpError(413, 'payload_too_large', `The request body exceeds ${bodyError.limit} bytes`, { limit: bodyError.limit });
  if (bodyError?.type === 'encoding.unsupported' || bodyError?.type === 'charset.unsupported') return new HttpError(415, 'unsupported_media_type', 'Unsupported body encoding');
  if (bodyError?.status === 400 || bodyError?.type === 'request.aborted' || bodyError?.type === 'request.size.invalid') return new HttpError(400, 'bad_request', 'The request body could not be read');
  // Text PostgreSQL cannot store (a NUL character) that reached a query before validation saw it.
  if (['22021', '22P05'].includes((error as { code?: string })?.code ?? '')) return new HttpError(422, 'validation_failed', 'The request contains characters that cannot be stored (NUL)');
  if (isDependencyUnavailable(error)) return new HttpError(503, 'unavailable', 'A dependency of Herald is unavailable; retry shortly');
  return new HttpError(500, 'internal', 'Internal error');
}

export const routeNotFound: RequestHandler = (request, _response, next) => {
  next(new HttpError(404, 'not_found', `No route for ${request.method} ${request.path}`));
};

const statusOfDomainError = { invalid: [422, 'validation_failed'], conflict: [409, 'conflict'], not_found: [404, 'not_found'] } as const;

/** The one mapping of core's domain errors to HTTP. */
function fromDomainError(error: DomainError): HttpError {
  const [status, code] = statusOfDomainError[error.kind];
  return new HttpError(status, code, error.message, error.details);
}
