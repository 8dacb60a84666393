import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import {
  HeraldDeliveryStatus,
  HeraldEndpointId,
  HeraldEventType,
  HeraldTenantId,
  deliveryWorkflowId,
  fanoutWorkflowId,
  workflowTypes,
  type DeliveryWorkflow,
  type FanoutWorkflow,
} from '../../workflows/contracts.js';
import { markDispatched, staleUndispatchedDeliveries, undispatchedEventDeliveries } from './deliveries.js';
import { deliverySummary } from './workflow-summaries.js';

/**
 * The transactional outbox's other half: deliveries are rows first, and a delivery row without
 * `dispatched_at` is one whose workflow may not exist yet. Whoever dispatches (the API right after
 * publishing, the fan-out workflow, or the sweeper) starts the workflow, then stamps the row.
 * Starting twice is harmless: workflow ids are unique and never reused.
 */
export interface DispatchDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
  /**
   * Ask Temporal to hand each new workflow's first task straight back (eager workflow start): only for a client
   * on a worker's NativeConnection, i.e. starts made in the worker (fan-out, sweeper, notices).
   */
  eagerStart?: boolean;
  /** Notification channels' digest window (HERALD_CHANNEL_DIGEST_WINDOW_MS); 15 minutes when absent. */
  channelDigestWindowMs?: number;
}

export interface DeliveryToStart {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  event_type: string;
  max_attempts: number;
  /** For the workflow's summary only (src/core/workflow-summaries.ts). */
  endpoint_url: string;
  tenant_name: string;
}

/** Above this many deliveries an event is handed to a fan-out workflow instead of started by the API. */
export const inlineDispatchLimit = 100;
const startConcurrency = 32;

export async function startDeliveryWorkflows(deps: DispatchDeps, deliveries: DeliveryToStart[]): Promise<void> {
  let next = 0;
  const startOne = async (delivery: DeliveryToStart) => {
    try {
      await deps.temporal.workflow.start<DeliveryWorkflow>(workflowTypes.delivery, {
        workflowId: deliveryWorkflowId(delivery.id),
        taskQueue: deps.taskQueue,
        args: [{ deliveryId: delivery.id, maxAttempts: delivery.max_attempts }],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        requestEagerStart: deps.eagerStart,
        // What the Web UI lists the workflow as: `v1.case.completed → https://receiver.example.com/hooks (Acme)`.
        staticSummary: deliverySummary(delivery),
        typedSearchAttributes: [
          { key: HeraldTenantId, value: delivery.tenant_id },
          { key: HeraldEndpointId, value: delivery.endpoint_id },
          { key: HeraldEventType, value: delivery.event_type },
          // The workflow starts delivering at once; starting it in that state saves an upsert per delivery.
          { key: HeraldDeliveryStatus, value: 'delivering' },
        ],
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(startConcurrency, deliveries.length) }, async () => {
      while (next < deliveries.length) await startOne(deliveries[next++]!);
    }),
  );
  if (deliveries.length > 0) await markDispatched(deps.sql, deliveries.map((delivery) => delivery.id));
}

/** Starts one event's deliveries: inline when few, else through its fan-out workflow. */
export async function dispatchEvent(deps: DispatchDeps, eventId: string, pending: DeliveryToStart[]): Promise<void> {
  if (pending.length === 0) return;
  if (pending.length <= inlineDispatchLimit) {
    await startDeliveryWorkflows(deps, pending);
    return;
  }
  try {
    await deps.temporal.workflow.start<FanoutWorkflow>(workflowTypes.fanout, {
      workflowId: fanoutWorkflowId(eventId),
      taskQueue: deps.taskQueue,
      args: [{ eventId }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** One batch of an event's undispatched deliveries, in id order after `afterDeliveryId`. */
export async function dispatchEventBatch(deps: DispatchDeps, eventId: string, afterDeliveryId: string | undefined, limit: number) {
  const batch = await undispatchedEventDeliveries(deps.sql, eventId, afterDeliveryId, limit);
  await startDeliveryWorkflows(deps, batch);
  return { count: batch.length, lastDeliveryId: batch.at(-1)?.id };
}

/**
 * Starts deliveries that nobody dispatched: the API died between commit and start, or Temporal was
 * down then. Only rows older than `graceMs` are touched, so normal dispatch is never raced.
 */
export async function sweepUndispatched(deps: DispatchDeps, graceMs = 10_000, limit = 500): Promise<number> {
  const rows = await staleUndispatchedDeliveries(deps.sql, graceMs, limit);
  await startDeliveryWorkflows(deps, rows);
  return rows.length;
}
