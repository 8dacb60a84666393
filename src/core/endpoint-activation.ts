import type { Sql } from '../db/client.js';
import type { DispatchDeps } from './dispatch.js';
import { tellHealthDisabled, tellHealthEnabled } from './endpoint-health.js';
import { writeEndpointActivation, type ActivationRow } from './endpoints.js';
import { NotFound } from './errors.js';
import { publishOperationalEvent } from './publish.js';

/**
 * Turning an endpoint on or off, in one place: the enable and disable routes, `PATCH {active}` and the health
 * workflow's automatic deactivation all come here. Each change has three effects, and each is safe to repeat, so a
 * call that failed half-way (Temporal unreachable after the row was written) is completed by calling again:
 *
 * 1. the row: `active`, `disabled_reason`, `disabled_at`, `enabled_at`;
 * 2. the endpoint's health workflow is told, so its streak and its `disabled` flag follow the row (an enable resets
 *    the streak, which is also how an operator repairs a health workflow that disagrees);
 * 3. the tenant's other endpoints get `v1.endpoint.disabled` / `v1.endpoint.enabled`, once per change: the notice's
 *    key names the change (the endpoint and the time it happened), so a repeat is "already sent".
 */
export type ActivationDeps = DispatchDeps & { sql: Sql };

export interface Deactivation {
  reason: string;
  consecutiveFailures?: number;
  lastError?: string | null;
}

export type ActivationChange =
  | { active: true }
  | ({ active: false } & Deactivation);

/**
 * Who asks. The health workflow already knows it deactivated the endpoint (it is the caller), so it is not
 * signalled back.
 */
export type ActivationCaller = 'operator' | 'health_workflow';

export async function changeEndpointActivation(
  deps: ActivationDeps,
  endpoint: { tenantId: string; endpointId: string },
  change: ActivationChange,
  caller: ActivationCaller = 'operator',
): Promise<ActivationRow> {
  const row = await writeEndpointActivation(deps.sql, endpoint.tenantId, endpoint.endpointId, change.active, change.active ? undefined : change.reason);
  if (!row) throw new NotFound('Endpoint');
  const target = { id: endpoint.endpointId, tenant_id: endpoint.tenantId, url: row.url, tenant_name: row.tenant_name };
  const notice = { tenantId: endpoint.tenantId, excludeEndpointIds: [endpoint.endpointId] };

  if (change.active) {
    await tellHealthEnabled(deps, target, row.enabled_at);
    // An endpoint that was never disabled has no change to announce.
    if (row.enabled_at) {
      await publishOperationalEvent(deps, {
        ...notice,
        type: 'v1.endpoint.enabled',
        data: { endpoint_id: endpoint.endpointId },
        occurrence: `${endpoint.endpointId}:${row.enabled_at.toISOString()}`,
      });
    }
    return row;
  }

  const reason = row.disabled_reason ?? change.reason;
  if (caller !== 'health_workflow') await tellHealthDisabled(deps, target, reason, row.disabled_at);
  // Disabled earlier for another reason (an operator got there first): the notice names that reason, and this
  // change's counts only when they are its own.
  const own = reason === change.reason;
  await publishOperationalEvent(deps, {
    ...notice,
    type: 'v1.endpoint.disabled',
    data: { endpoint_id: endpoint.endpointId, reason, consecutive_failures: own ? (change.consecutiveFailures ?? 0) : 0, last_error: own ? (change.lastError ?? null) : null },
    occurrence: `${endpoint.endpointId}:${row.disabled_at!.toISOString()}`,
  });
  return row;
}
