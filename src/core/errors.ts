/**
 * Domain errors: what core modules throw when a request cannot be carried out. They say what went wrong, not how
 * to answer it: the API maps them to HTTP in one place (src/api/errors.ts), and the worker's activity interceptor
 * makes them non-retryable, since the same input fails the same way again.
 */

/** One field of the input and what is wrong with it (`body.url`, `headers.idempotency-key`). */
export interface FieldIssue {
  field: string;
  message: string;
  code: string;
}

export abstract class DomainError extends Error {
  abstract readonly kind: 'invalid' | 'conflict' | 'limit_reached' | 'not_found' | 'unavailable' | 'unauthenticated';
  constructor(
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input breaks a rule; `issues` name each field. The message names the first one: `body.url: must be https`. */
export class Invalid extends DomainError {
  readonly kind = 'invalid';
  constructor(
    readonly issues: FieldIssue[],
    message = issues[0] ? `${issues[0].field}: ${issues[0].message}` : 'The request is not valid',
  ) {
    super(message, issues);
  }

  static field(field: string, message: string, code: string): Invalid {
    return new Invalid([{ field, message, code }]);
  }
}

/** The request contradicts the current state (an idempotency key reused with another body). */
export class Conflict extends DomainError {
  readonly kind = 'conflict';
}

/** A quota of the tenant is used up (its endpoints, its active API keys); `details` names the limit. */
export class LimitReached extends DomainError {
  readonly kind = 'limit_reached';
}

export class NotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(what: string) {
    super(`${what} not found`);
  }
}

/** The credential presented (a portal link, a portal session) opens nothing; `code` says why (`link_expired`). */
export class Unauthenticated extends DomainError {
  readonly kind = 'unauthenticated';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Something Herald depends on (a worker, Temporal) did not answer in time: the caller may retry shortly. */
export class Unavailable extends DomainError {
  readonly kind = 'unavailable';
}

/**
 * PostgreSQL or Temporal being down or unreachable: not Herald's bug, and not the input's, so the caller may retry
 * (the API answers 503, an activity lets Temporal retry it).
 */
export function isDependencyUnavailable(error: unknown): boolean {
  const err = error as { code?: string; name?: string; message?: string };
  if (!err || typeof err !== 'object') return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P03', '53300', '08006', '08001'].includes(err.code ?? '')) return true;
  if (err.name === 'ServiceError' || err.name === 'ConnectionError' || err.name === 'TransportError') return true;
  return /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED/.test(err.message ?? '');
}
