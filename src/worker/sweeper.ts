import { sweepUndispatched, type DispatchDeps } from '../core/dispatch.js';
import { sweepChannelWindows } from '../core/channels.js';
import { sweepTerminatedDeliveries, type TerminatedSweepCursor, type TerminatedSweepOptions } from '../core/delivery-operations.js';
import type { Logger } from '../logger.js';

export interface SweeperOptions {
  /** How often it sweeps. */
  everyMs?: number;
  /** Which running deliveries it asks Temporal about each sweep, to end those whose workflows were terminated. */
  terminated?: Partial<TerminatedSweepOptions>;
}

/** Rows unchanged for two minutes, twenty describe calls a sweep: cheap, and a terminated delivery ends within minutes. */
export const terminatedSweepDefaults: TerminatedSweepOptions = { staleMs: 120_000, limit: 20 };

/**
 * Runs the sweeper in the worker process. Each sweep: deliveries that were stored but never started (the API died
 * after committing, or Temporal was down) are started within a few seconds; then a few running deliveries whose rows
 * have not changed for a while are checked against Temporal, and those whose workflows were terminated (they run no
 * cleanup) are ended as failed / `terminated` (src/core/delivery-operations.ts).
 */
export function startSweeper(deps: DispatchDeps & { logger: Logger }, options: SweeperOptions = {}): () => Promise<void> {
  const terminated = { ...terminatedSweepDefaults, ...options.terminated };
  const cursor: TerminatedSweepCursor = {};
  let running: Promise<unknown> = Promise.resolve();
  const sweep = async (what: string, step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (error) {
      deps.logger.warn({ err: error }, `${what} sweep failed; retrying on the next tick`);
    }
  };
  const timer = setInterval(() => {
    running = running.then(async () => {
      // Full batches mean a backlog: keep going until it is drained.
      await sweep('outbox', async () => {
        while ((await sweepUndispatched(deps)) === 500);
      });
      await sweep('terminated deliveries', () => sweepTerminatedDeliveries(deps, cursor, terminated));
      // Notification windows whose message workflow was never started (Temporal down when the notice was published).
      await sweep('channel windows', () => sweepChannelWindows(deps));
    });
  }, options.everyMs ?? 5000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
