import type { ActivityDeps } from './index.js';
import { setEndpointActive } from '../src/core/endpoints.js';
import { publishOperationalEvent } from '../src/core/publish.js';
import {
  attemptFailedHealthSignal,
  attemptSucceededSignal,
  endpointHealthWorkflow,
  endpointHealthWorkflowId,
  type AttemptReport,
} from '../workflows/health.js';

/**
 * Tells the endpoint's health workflow about an attempt, starting the workflow if it does not exist
 * yet. A lost report (Temporal briefly down) costs one count, never the delivery, so errors are logged.
 */
export async function reportAttemptToHealth(deps: ActivityDeps, endpoint: { id: string; tenant_id: string }, succeeded: boolean, report: AttemptReport): Promise<void> {
  try {
    await deps.temporal.workflow.signalWithStart(endpointHealthWorkflow, {
      workflowId: endpointHealthWorkflowId(endpoint.id),
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [{ endpointId: endpoint.id, tenantId: endpoint.tenant_id, maxReportsPerRun: deps.healthReportsPerRun }],
      signal: succeeded ? attemptSucceededSignal : attemptFailedHealthSignal,
      signalArgs: [report],
    });
  } catch (error) {
    deps.logger.warn({ err: error, endpoint_id: endpoint.id }, 'could not report an attempt to the endpoint health workflow');
  }
}

export function createHealthActivities(deps: ActivityDeps) {
  return {
    /** The failure streak is over: successes stop being reported until the next failed attempt. */
    async clearHealthAttention(input: { endpointId: string; before: string }): Promise<void> {
      await deps.sql`
        update endpoints set health_attention = false
        where id = ${input.endpointId} and health_attention and (health_attention_at is null or health_attention_at < ${new Date(input.before)})`;
    },

    /** Deactivates the endpoint and tells the tenant's other endpoints (v1.endpoint.disabled), once. */
    async deactivateEndpoint(input: { endpointId: string; tenantId: string; reason: string; consecutiveFailures: number; lastError: string | null }): Promise<void> {
      const result = await setEndpointActive(deps.sql, input.tenantId, input.endpointId, false, input.reason);
      if (!result) return;
      const [endpoint] = await deps.sql<{ disabled_at: Date; disabled_reason: string | null }[]>`select disabled_at, disabled_reason from endpoints where id = ${input.endpointId}`;
      // Already disabled for another reason (an operator got there first): that disable was announced then.
      if (!result.changed && endpoint?.disabled_reason !== input.reason) return;
      await publishOperationalEvent(deps.dispatch, {
        tenantId: input.tenantId,
        type: 'v1.endpoint.disabled',
        data: { endpoint_id: input.endpointId, reason: input.reason, consecutive_failures: input.consecutiveFailures, last_error: input.lastError },
        // One notice per deactivation, however often this activity is retried.
        occurrence: `${input.endpointId}:${endpoint?.disabled_at?.toISOString()}`,
        excludeEndpointIds: [input.endpointId],
      });
    },
  };
}
