import type { ActivityDeps } from './index.js';
import { replayDeliveryById } from '../src/core/replay.js';
import { deliveryWorkflowId, type ReplayDeliveryResult } from '../workflows/contracts.js';

/** The replayDelivery workflow's one step: the API's replay (src/core/replay.ts), its domain errors final. */
export function createReplayActivities(deps: ActivityDeps) {
  return {
    async replayDeliveryById(input: { deliveryId: string; force?: boolean }): Promise<ReplayDeliveryResult> {
      const replay = await replayDeliveryById(deps.dispatch, input);
      return { replay_delivery_id: replay.delivery_id, workflow_id: deliveryWorkflowId(replay.delivery_id) };
    },
  };
}
