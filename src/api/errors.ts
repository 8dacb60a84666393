import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { DomainError, Invalid, Unauthenticated, isDependencyUnavailable } from '../core/errors.js';
import type { Logger } from '../logger.js';
import type { PortalAccessRefused } from '../core/portal-sessions.js';
import { fieldIssues } from './validation.js';

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
  | 'internal'
  | 'csrf_failed'
  | 'read_only'
  | PortalAccessRefused['problem'];

/**
 * An HTTP-only error the API answers with as is: `{"error": {code, message, details}}` under `status`. For what only
 * HTTP knows (authentication, rate limits, body framing, routing); everything about the request's meaning is a
 * domain error (src/core/errors.ts: Invalid, Conflict, LimitReached, NotFound), mapped below in one place.
 */
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

export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);

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
  if (error instanceof ZodError) return fromDomainError(new Invalid(fieldIssues(error, 'body')));
  const bodyError = error as { type?: string; status?: number; limit?: number };
  if (bodyError?.type === 'entity.parse.failed') return new HttpError(400, 'invalid_json', 'The request body is not valid JSON');
  if (bodyError?.type === 'entity.too.large') return new HttpError(413, 'payload_too_large', `The request body exceeds ${bodyError.limit} bytes`, { limit: bodyError.limit });
  if (bodyError?.type === 'encoding.unsupported' || bodyError?.type === 'charset.unsupported') return new HttpError(415, 'unsupported_media_type', 'Unsupported body encoding');
  if (bodyError?.status === 400 || bodyError?.type === 'request.aborted' || bodyError?.type === 'request.size.invalid') return new HttpError(400, 'bad_request', 'The request body could not be read');
  // Text PostgreSQL cannot store (a NUL character) that reached a query before validation saw it.
  if (['22021', '22P05'].includes((error as { code?: string })?.code ?? '')) {
    return fromDomainError(Invalid.field('request', 'contains characters that cannot be stored (NUL)', 'invalid_string'));
  }
  if (isDependencyUnavailable(error)) return new HttpError(503, 'unavailable', 'A dependency of Herald is unavailable; retry shortly');
  return new HttpError(500, 'internal', 'Internal error');
}

export const routeNotFound: RequestHandler = (request, _response, next) => {
  next(new HttpError(404, 'not_found', `No route for ${request.method} ${request.path}`));
};

/** A quota answers 409 `conflict`, as it always has; `details` names the limit (max_endpoints, max_api_keys). */
const statusOfDomainError = {
  invalid: [422, 'validation_failed'],
  conflict: [409, 'conflict'],
  limit_reached: [409, 'conflict'],
  not_found: [404, 'not_found'],
  unavailable: [503, 'unavailable'],
  unauthenticated: [401, 'unauthorized'],
} as const satisfies Record<DomainError['kind'], readonly [number, ErrorCode]>;

/** The one mapping of core's domain errors to HTTP, and so the one way a 422 `validation_failed` is built. */
function fromDomainError(error: DomainError): HttpError {
  const [status, code] = statusOfDomainError[error.kind];
  // A refused credential says which refusal it is (link_expired, no_session), so a page can say what to do.
  return new HttpError(status, error instanceof Unauthenticated ? (error.code as ErrorCode) : code, error.message, error.details);
}
