import type { ActivityDeps } from './index.js';
import { changeEndpointActivation } from '../src/core/endpoint-activation.js';
import { NotFound } from '../src/core/errors.js';
import { healthSummary } from '../src/core/workflow-summaries.js';
import {
  attemptFailedHealthSignal,
  attemptSucceededSignal,
  endpointHealthWorkflowId,
  workflowTypes,
  type AttemptReport,
  type EndpointHealthWorkflow,
} from '../workflows/contracts.js';

/**
 * Tells the endpoint's health workflow about an attempt, starting the workflow if it does not exist
 * yet. A lost report (Temporal briefly down) costs one count, never the delivery, so errors are logged.
 */
export async function reportAttemptToHealth(deps: ActivityDeps, endpoint: { id: string; tenant_id: string; url: string; tenant_name: string }, succeeded: boolean, report: AttemptReport): Promise<void> {
  try {
    await deps.temporal.workflow.signalWithStart<EndpointHealthWorkflow, [AttemptReport]>(workflowTypes.endpointHealth, {
      workflowId: endpointHealthWorkflowId(endpoint.id),
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [{ endpointId: endpoint.id, tenantId: endpoint.tenant_id, maxReportsPerRun: deps.healthReportsPerRun }],
      signal: succeeded ? attemptSucceededSignal : attemptFailedHealthSignal,
      signalArgs: [report],
      // Used only when this report starts the workflow.
      staticSummary: healthSummary(endpoint),
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

    /** Deactivates the endpoint and tells the tenant's other endpoints (v1.endpoint.disabled), once however often it is retried. */
    async deactivateEndpoint(input: { endpointId: string; tenantId: string; reason: string; consecutiveFailures: number; lastError: string | null }): Promise<void> {
      try {
        await changeEndpointActivation(
          deps.dispatch,
          { tenantId: input.tenantId, endpointId: input.endpointId },
          { active: false, reason: input.reason, consecutiveFailures: input.consecutiveFailures, lastError: input.lastError },
          'health_workflow',
        );
      } catch (error) {
        // Deleted meanwhile: nothing left to deactivate.
        if (!(error instanceof NotFound)) throw error;
      }
    },
  };
}
