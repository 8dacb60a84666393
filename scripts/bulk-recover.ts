/**
 * Recover an endpoint's failed deliveries in bulk with the Temporal TypeScript SDK: start recoverWorkflow with the
 * operator input (README "With the `temporal` CLI only"), as `POST …/endpoints/:id/recover` does with the API.
 *
 *   node --import tsx scripts/bulk-recover.ts <tenant_id> <endpoint_id> --since 2h [--until <when>]
 *     [--status failed|delivered] [--batch-size <n>] [--force] [--no-wait]
 *
 * since/until are ISO dates or durations ago (`2h`); until defaults to now. The workflow's first step creates the
 * recovery row (GET …/recoveries/:id shows it, under this workflow id), then replays in batches and never replays a
 * delivery twice. Bad input fails it at once, with the reason (the script prints it, exit code 2). Without --no-wait
 * the script follows the `progress` query and prints the result. Settings as in scripts/lib/connect.ts.
 */
import { recoveryProgressQuery, workflowTypes, type RecoverOperatorInput, type RecoverWorkflowAnyInput } from '../workflows/contracts.js';
import { scriptArgs, withTemporal } from './lib/connect.js';

const { positionals, values } = scriptArgs('scripts/bulk-recover.ts <tenant_id> <endpoint_id> --since <when> [--until <when>] [--status failed|delivered] [--batch-size <n>] [--force] [--no-wait]', 2, {
  since: { type: 'string' },
  until: { type: 'string' },
  status: { type: 'string' },
  'batch-size': { type: 'string' },
  force: { type: 'boolean', default: false },
  'no-wait': { type: 'boolean', default: false },
});
const [tenantId, endpointId] = positionals as [string, string];

await withTemporal('bulk-recover', async (temporal, settings) => {
  // The documented operator input; the workflow validates it (a missing since fails it with InvalidInput).
  const input: RecoverOperatorInput = {
    tenant_id: tenantId,
    endpoint_id: endpointId,
    since: values.since!,
    ...(values.until ? { until: values.until } : {}),
    ...(values.status ? { status: values.status as RecoverOperatorInput['status'] } : {}),
    ...(values['batch-size'] ? { batch_size: Number(values['batch-size']) } : {}),
    ...(values.force ? { force: true } : {}),
  };
  const handle = await temporal.workflow.start<RecoverWorkflowAnyInput>(workflowTypes.recover, {
    workflowId: `recover-sdk-${endpointId}-${Date.now()}`,
    taskQueue: settings.TEMPORAL_TASK_QUEUE,
    args: [input],
  });
  console.log(`recovery workflow ${handle.workflowId} started`);
  if (values['no-wait']) return;
  let done = false;
  const result = handle.result().finally(() => (done = true));
  // Awaited below; handled now too, so an early failure is not an unhandled rejection while a query is in flight.
  result.catch(() => {});
  while (!done) {
    const progress = await handle.query(recoveryProgressQuery).catch(() => undefined);
    if (progress && !done) console.error(`  ${progress.replayed}/${progress.total} replayed`);
    await Promise.race([result.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000))]);
  }
  const { total, replayed } = await result;
  console.log(`recovery completed: ${replayed} of ${total} deliveries replayed`);
});
