import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import { queryLive } from '../temporal/live-query.js';
import {
  endpointDisabledSignal,
  endpointEnabledSignal,
  endpointHealthWorkflowId,
  healthQuery,
  settingsChangedSignal,
  workflowTypes,
  type EndpointHealthWorkflow,
  type HealthColour,
  type HealthSettings,
  type HealthStatus,
  type SignalArgs,
} from '../../workflows/contracts.js';
import { classifyHealth } from './health-rules.js';
import { healthSummary } from './workflow-summaries.js';

/**
 * Endpoint health as the API shows it: the consecutive-failure count lives in the endpoint's
 * health workflow; rates and latencies come from the attempt log in Postgres.
 */
export interface HealthSummary {
  status: HealthStatus;
  colour: HealthColour;
  consecutive_failures: number;
  success_rate_24h: number | null;
  last_delivery_at: Date | null;
  last_success_at: Date | null;
  disabled_reason: string | null;
}

export interface EndpointStats {
  window: string;
  attempts: number;
  successes: number;
  failures: number;
  success_rate: number | null;
  latency_ms: { p50: number | null; p95: number | null };
  last_delivery_at: Date | null;
  last_success_at: Date | null;
}

interface HealthDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
}

export async function endpointStats(sql: Sql, endpointIds: string[], windowMs: number): Promise<Map<string, Omit<EndpointStats, 'window'>>> {
  const rows = await sql<{ endpoint_id: string; attempts: number; successes: number; p50: number | null; p95: number | null; last_delivery_at: Date | null; last_success_at: Date | null }[]>`
    select endpoint_id, count(*)::int as attempts, count(*) filter (where success)::int as successes,
           percentile_cont(0.5) within group (order by duration_ms) as p50,
           percentile_cont(0.95) within group (order by duration_ms) as p95,
           max(started_at) as last_delivery_at, max(started_at) filter (where success) as last_success_at
    from attempts
    where endpoint_id = any(${sql.array(endpointIds)}::text[]) and kind = 'delivery'
      and started_at > now() - make_interval(secs => ${windowMs / 1000})
    group by endpoint_id`;
  const byId = new Map(rows.map((row) => [row.endpoint_id, row]));
  return new Map(
    endpointIds.map((id) => {
      const row = byId.get(id);
      const attempts = row?.attempts ?? 0;
      const successes = row?.successes ?? 0;
      return [
        id,
        {
          attempts,
          successes,
          failures: attempts - successes,
          success_rate: attempts ? Math.round((successes / attempts) * 10_000) / 10_000 : null,
          latency_ms: { p50: row?.p50 === null || row?.p50 === undefined ? null : Math.round(row.p50), p95: row?.p95 === null || row?.p95 === undefined ? null : Math.round(row.p95) },
          last_delivery_at: row?.last_delivery_at ?? null,
          last_success_at: row?.last_success_at ?? null,
        },
      ];
    }),
  );
}

/**
 * Health of a page of endpoints. Only endpoints with a failure streak in progress (health_attention)
 * cost a workflow query; the others have no consecutive failures by construction.
 */
export async function healthSummaries(
  deps: HealthDeps,
  endpoints: { id: string; active: boolean; disabled_reason: string | null; disable_after_failures: number }[],
): Promise<Map<string, HealthSummary>> {
  if (endpoints.length === 0) return new Map();
  const ids = endpoints.map((endpoint) => endpoint.id);
  const [stats, attention] = await Promise.all([
    endpointStats(deps.sql, ids, 86_400_000),
    deps.sql<{ id: string }[]>`select id from endpoints where id = any(${deps.sql.array(ids)}::text[]) and health_attention`,
  ]);
  const needsQuery = new Set(attention.map((row) => row.id));
  const live = new Map(await Promise.all([...needsQuery].map(async (id) => [id, await queryLive(deps.temporal, endpointHealthWorkflowId(id), healthQuery)] as const)));
  return new Map(
    endpoints.map((endpoint) => {
      const windowStats = stats.get(endpoint.id)!;
      const consecutive = live.get(endpoint.id)?.consecutive_failures ?? 0;
      const { status, colour } = classifyHealth({
        disabled: !endpoint.active,
        consecutive_failures: consecutive,
        disable_after_failures: endpoint.disable_after_failures,
        recent_failures: windowStats.failures,
      });
      return [
        endpoint.id,
        {
          status,
          colour,
          consecutive_failures: consecutive,
          success_rate_24h: windowStats.success_rate,
          last_delivery_at: windowStats.last_delivery_at,
          last_success_at: windowStats.last_success_at,
          disabled_reason: endpoint.disabled_reason,
        },
      ];
    }),
  );
}

/** An endpoint as its health workflow is started: the URL and tenant name are for its summary only. */
export interface HealthWorkflowTarget {
  id: string;
  tenant_id: string;
  url: string;
  tenant_name: string;
}

const healthWorkflowStart = (deps: HealthDeps, endpoint: HealthWorkflowTarget) => ({
  workflowId: endpointHealthWorkflowId(endpoint.id),
  taskQueue: deps.taskQueue,
  args: [{ endpointId: endpoint.id, tenantId: endpoint.tenant_id }] as [{ endpointId: string; tenantId: string }],
  // Set when this call starts the workflow (a running one keeps its own); continue-as-new carries no summary.
  staticSummary: healthSummary(endpoint),
});

/**
 * Tells the endpoint's health workflow the endpoint is enabled (starting it if needed): its streak starts again.
 * Called by src/core/endpoint-activation.ts only.
 */
export async function tellHealthEnabled(deps: HealthDeps, endpoint: HealthWorkflowTarget, enabledAt: Date | null): Promise<void> {
  await deps.temporal.workflow.signalWithStart<EndpointHealthWorkflow, SignalArgs<typeof endpointEnabledSignal>>(workflowTypes.endpointHealth, { ...healthWorkflowStart(deps, endpoint), signal: endpointEnabledSignal, signalArgs: [{ at: enabledAt?.toISOString() }] });
  await deps.sql`update endpoints set health_attention = false where id = ${endpoint.id}`;
}

/** Tells the endpoint's health workflow someone else disabled the endpoint. Called by src/core/endpoint-activation.ts only. */
export async function tellHealthDisabled(deps: HealthDeps, endpoint: HealthWorkflowTarget, reason: string, disabledAt: Date | null): Promise<void> {
  await deps.temporal.workflow.signalWithStart<EndpointHealthWorkflow, SignalArgs<typeof endpointDisabledSignal>>(workflowTypes.endpointHealth, { ...healthWorkflowStart(deps, endpoint), signal: endpointDisabledSignal, signalArgs: [{ reason, at: disabledAt?.toISOString() }] });
}

/** New thresholds apply at once in a running health workflow; without one there is nothing to tell. */
export async function signalHealthSettingsChanged(deps: HealthDeps, endpointId: string, settings: HealthSettings): Promise<void> {
  try {
    await deps.temporal.workflow.getHandle(endpointHealthWorkflowId(endpointId)).signal(settingsChangedSignal, settings);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}
