import { sweepUndispatched, type DispatchDeps } from '../core/dispatch.js';
import type { Logger } from '../logger.js';

/**
 * Runs the outbox sweeper in the worker process: deliveries that were stored but never started
 * (the API died after committing, or Temporal was down) are started within a few seconds.
 */
export function startSweeper(deps: DispatchDeps & { logger: Logger }, everyMs = 5000): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        // Full batches mean a backlog: keep going until it is drained.
        while ((await sweepUndispatched(deps)) === 500);
      } catch (error) {
        deps.logger.warn({ err: error }, 'outbox sweep failed; retrying on the next tick');
      }
    });
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
