import type { ActivityDeps } from './index.js';
import { dispatchEventBatch } from '../src/core/dispatch.js';

/** The fan-out workflow's step: starts one batch of an event's undispatched deliveries (see src/core/dispatch.ts). */
export function createFanoutActivities(deps: ActivityDeps) {
  return {
    async dispatchEventDeliveries(input: { eventId: string; afterDeliveryId?: string; limit: number }) {
      return dispatchEventBatch(deps.dispatch, input.eventId, input.afterDeliveryId, input.limit);
    },
  };
}
