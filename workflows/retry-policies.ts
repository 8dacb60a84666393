import type { RetryPolicy } from '@temporalio/workflow';

/**
 * Herald's bookkeeping activities (recording a failed delivery, deactivating an endpoint, dispatch and recovery
 * batches) retry through an outage of PostgreSQL or Temporal of about an hour and a half, never for ever: a
 * deterministic failure is made non-retryable where it arises (domain errors, src/worker/domain-errors.ts), and
 * anything else that fails 50 times fails the workflow visibly rather than keeping it Running unseen.
 */
export const bookkeepingRetryPolicy: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '2m',
  maximumAttempts: 50,
};
