import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import { DomainError } from '../core/errors.js';

/**
 * Activities call the same core modules as the API. A domain error there (invalid input, a conflict, something
 * missing) fails the same way on every retry, so it ends the activity at once as a non-retryable failure whose
 * type names the error (`Conflict`, `Invalid`, `NotFound`), instead of being retried until the policy gives up.
 */
export function domainErrorsAreFinal(): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (error) {
          // Unavailable is a dependency's state, not the input's: it is left to the retry policy.
          if (error instanceof DomainError && error.kind !== 'unavailable') {
            throw ApplicationFailure.create({ message: error.message, type: error.name, nonRetryable: true, details: error.details === null ? [] : [error.details], cause: error });
          }
          throw error;
        }
      },
    },
  };
}
