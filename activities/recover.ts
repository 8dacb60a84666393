import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { finishRecovery, replayRecoveryBatch } from '../src/core/replay.js';

/** The recovery workflow's steps: each batch replays idempotently (see src/core/replay.ts). */
export function createRecoverActivities(deps: ActivityDeps) {
  return {
    async replayRecoveryBatch(input: { recoveryId: string; afterDeliveryId?: string; limit: number }) {
      const context = Context.current();
      const heartbeat = setInterval(() => context.heartbeat(), 2000);
      try {
        return await replayRecoveryBatch(deps.dispatch, input);
      } finally {
        clearInterval(heartbeat);
      }
    },
    async finishRecovery(recoveryId: string): Promise<void> {
      await finishRecovery(deps.sql, recoveryId);
    },
  };
}
