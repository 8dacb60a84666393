import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { deliveryWorkflowId, runningDeliveryStatuses, terminatedFailureReason } from '../../workflows/contracts.js';
import { endRunningDelivery, getDelivery, staleRunningDeliveries, type DeliveryView } from './deliveries.js';
import { Conflict, NotFound } from './errors.js';

/**
 * What operators do to a running delivery from outside its workflow, and what the worker does when a delivery
 * workflow ended without finishing its row: cancel one (as `temporal workflow cancel` does), and sweep the
 * deliveries whose workflows were terminated.
 */

export interface DeliveryOperationDeps {
  sql: Sql;
  temporal: Client;
}

const isRunning = (status: string) => (runningDeliveryStatuses as readonly string[]).includes(status);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a cancellation waits for the workflow to finish the row, by default. */
export const cancelWaitMs = 5000;

/**
 * Cancels a running delivery: requests cancellation of its workflow, which finishes the row as failed / `cancelled`
 * (and publishes the delivery_failed notice) like any failure, then waits up to `waitMs` for the row to say so.
 * `ended` is false when the worker has not finished it by then (the cancellation stays requested). A delivery whose
 * workflow does not exist (never started, or gone) is ended here, as failed / `cancelled`.
 *
 * NotFound for another tenant's or an unknown delivery; Conflict when it has already ended, or was delivered before
 * the cancellation took effect.
 */
export async function cancelDelivery(
  deps: DeliveryOperationDeps,
  target: { tenantId: string; deliveryId: string },
  options: { waitMs?: number } = {},
): Promise<{ delivery: DeliveryView; ended: boolean }> {
  const { sql, temporal } = deps;
  const { tenantId, deliveryId } = target;
  const delivery = await getDelivery(sql, tenantId, deliveryId);
  if (!delivery) throw new NotFound('Delivery');
  if (!isRunning(delivery.status)) throw new Conflict(`Delivery ${deliveryId} has already ended (${endedAs(delivery)}); there is nothing to cancel`);
  try {
    await temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)).cancel();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    // No running workflow to finish it: the row is ours to end.
    await endRunningDelivery(sql, deliveryId, 'cancelled');
  }
  const deadline = Date.now() + (options.waitMs ?? cancelWaitMs);
  for (;;) {
    const now = (await getDelivery(sql, tenantId, deliveryId))!;
    if (now.status === 'delivered') throw new Conflict(`Delivery ${deliveryId} was delivered before the cancellation took effect`);
    if (!isRunning(now.status)) return { delivery: now, ended: true };
    if (Date.now() >= deadline) return { delivery: now, ended: false };
    await sleep(100);
  }
}

function endedAs(delivery: Pick<DeliveryView, 'status' | 'failure_reason'>): string {
  return delivery.failure_reason ? `${delivery.status}, ${delivery.failure_reason}` : delivery.status;
}

/** Where the sweep of terminated deliveries goes on from: the last delivery id it checked in the current round. */
export interface TerminatedSweepCursor {
  afterId?: string;
}

export interface TerminatedSweepOptions {
  /** Only rows unchanged for this long are checked (a running workflow updates its row at every attempt). */
  staleMs: number;
  /** Rows checked (one `describe` each) per sweep. */
  limit: number;
}

/**
 * A terminated delivery workflow runs no cleanup, so its row would say `retrying` (or `delivering`, `pending`) forever.
 * One sweep asks Temporal about up to `limit` running rows unchanged for `staleMs`, in id order from the cursor (a
 * round goes through all of them, a few per sweep, then starts again), and ends as failed / `terminated` each whose
 * workflow is terminated, otherwise closed, or gone. No delivery_failed notice: a termination is an operator's
 * deliberate "stop, run nothing", and a mass termination must not turn into a burst of notices to tenants.
 * Returns the ids it ended.
 */
export async function sweepTerminatedDeliveries(
  deps: DeliveryOperationDeps & { logger?: Logger },
  cursor: TerminatedSweepCursor,
  options: TerminatedSweepOptions,
): Promise<string[]> {
  const rows = await staleRunningDeliveries(deps.sql, options.staleMs, cursor.afterId, options.limit);
  // A short page ends the round: the next sweep starts from the lowest id again.
  cursor.afterId = rows.length < options.limit ? undefined : rows.at(-1)!.id;
  const ended: string[] = [];
  for (const { id } of rows) {
    const status = await deps.temporal.workflow
      .getHandle(deliveryWorkflowId(id))
      .describe()
      .then(
        (description) => description.status.name,
        (error: unknown) => {
          if (error instanceof WorkflowNotFoundError) return 'NOT_FOUND';
          throw error;
        },
      );
    if (status === 'RUNNING') continue;
    if (await endRunningDelivery(deps.sql, id, terminatedFailureReason)) {
      ended.push(id);
      deps.logger?.warn({ deliveryId: id, workflowStatus: status }, 'delivery workflow ended without finishing its delivery; marked failed (terminated)');
    }
  }
  return ended;
}
