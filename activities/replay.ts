import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { replayDeliveryById } from '../src/core/replay.js';
import { idFor } from '../src/core/ids.js';
import { deliveryWorkflowId, type ReplayDeliveryResult } from '../workflows/contracts.js';

/** The replayDelivery workflow's one step: the API's replay (src/core/replay.ts), its domain errors final. */
export function createReplayActivities(deps: ActivityDeps) {
  return {
    async replayDeliveryById(input: { deliveryId: string; force?: boolean }): Promise<ReplayDeliveryResult> {
      // The replay's id is this activity's (one per workflow run): a retry after the worker died past the insert
      // finds that replay instead of making a second one.
      const { info } = Context.current();
      const run = info.workflowExecution!;
      const replayId = idFor('delivery', info.scheduledTimestampMs, `replay\0${run.workflowId}\0${run.runId}\0${info.activityId}`);
      const replay = await replayDeliveryById(deps.dispatch, { ...input, replayId });
      return { replay_delivery_id: replay.delivery_id, workflow_id: deliveryWorkflowId(replay.delivery_id) };
    },
  };
}
