import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { keepAlive } from './keep-alive.js';
import { finishRecovery, replayRecoveryBatch } from '../src/core/replay.js';

/** The recovery workflow's steps: each batch replays idempotently (see src/core/replay.ts). */
export function createRecoverActivities(deps: ActivityDeps) {
  return {
    async replayRecoveryBatch(input: { recoveryId: string; afterDeliveryId?: string; limit: number }) {
      const stopKeepingAlive = keepAlive(Context.current());
      try {
        return await replayRecoveryBatch(deps.dispatch, input);
      } finally {
        stopKeepingAlive();
      }
    },
    async finishRecovery(recoveryId: string): Promise<void> {
      await finishRecovery(deps.sql, recoveryId);
    },
  };
}
