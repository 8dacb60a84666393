import { proxyActivities } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import { checkReplayInput, surfaceFinalFailure } from './operator-input.js';
import type { ReplayDeliveryInput, ReplayDeliveryResult } from './contracts.js';

const { replayDeliveryById } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

/**
 * `POST …/deliveries/:id/replay` for operators with only the `temporal` CLI:
 * `temporal workflow start --type replayDelivery --task-queue herald --input '{"delivery_id": "whd_…"}'`.
 * One activity does what the route does (replayDelivery in src/core/replay.ts: the replay's row, then its delivery
 * workflow); this workflow returns the replay's ids and ends, it does not wait for the delivery.
 */
export async function replayDelivery(input: ReplayDeliveryInput): Promise<ReplayDeliveryResult> {
  const { delivery_id, force } = checkReplayInput(input);
  return replayDeliveryById({ deliveryId: delivery_id, force }).catch(surfaceFinalFailure);
}
