import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import { deliveryWorkflowId, notWaitingForRetry, progressQuery, retryNowUpdate, type RetryNowOutcome } from '../../workflows/contracts.js';
import { queryLive } from '../temporal/live-query.js';
import { getDelivery } from './deliveries.js';
import { Conflict, NotFound, Unavailable } from './errors.js';

/**
 * `POST …/deliveries/:id/retry`: the `retryNow` update of a delivery waiting for its next retry, which runs that
 * attempt at once and answers its outcome. NotFound for another tenant's or an unknown delivery; Conflict when it is
 * not waiting (delivered, failed, attempting right now): the update's validator says why.
 */
export async function retryDeliveryNow(deps: { sql: Sql; temporal: Client }, target: { tenantId: string; deliveryId: string }): Promise<RetryNowOutcome> {
  const delivery = await getDelivery(deps.sql, target.tenantId, target.deliveryId);
  if (!delivery) throw new NotFound('Delivery');
  if (delivery.status === 'delivered' || delivery.status === 'failed') {
    throw new Conflict(notWaitingForRetry(delivery.id, delivery.status), { status: delivery.status });
  }
  // An update waits for a worker: ask the workflow first, briefly, so no worker means 503 rather than a hung request.
  const live = await queryLive(deps.temporal, deliveryWorkflowId(delivery.id), progressQuery);
  if (!live) throw new Unavailable(`no worker answered for delivery ${delivery.id}; retry shortly`);
  if (live.status !== 'retrying') throw new Conflict(notWaitingForRetry(delivery.id, live.status), { status: live.status });
  try {
    // The attempt it runs is bounded by the endpoint's timeout (at most 30 s); a worker lost meanwhile must not hang the request.
    let timer: NodeJS.Timeout | undefined;
    const lost = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Unavailable(`no worker finished the retry of delivery ${delivery.id} within 60 s; see its attempts`)), 60_000);
    });
    try {
      return await Promise.race([deps.temporal.workflow.getHandle(deliveryWorkflowId(delivery.id)).executeUpdate(retryNowUpdate), lost]);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    // Refused by the validator (not waiting), or the workflow has closed meanwhile.
    if (error instanceof WorkflowUpdateFailedError) throw new Conflict(error.cause?.message ?? error.message, { status: delivery.status });
    if (error instanceof WorkflowNotFoundError) throw new Conflict(`delivery ${delivery.id} has no running workflow`, { status: delivery.status });
    throw error;
  }
}
