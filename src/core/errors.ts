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
  abstract readonly kind: 'invalid' | 'conflict' | 'not_found';
  constructor(
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input breaks a rule; `issues` name each field. */
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

export class NotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(what: string) {
    super(`${what} not found`);
  }
}
