/**
 * Where a delivery stands, from its running workflow: the `progress` query (the Temporal TypeScript SDK only).
 *
 *   node --import tsx scripts/query.ts <delivery_id>
 *
 * Prints the answer as JSON: {"status": "retrying", "attempt": 2, "max_attempts": 4, "next_attempt_at": "…", …}. The
 * same as `temporal workflow query --workflow-id delivery-<id> --type progress`. A closed workflow still answers (a
 * worker replays its history), as long as Temporal keeps it; settings as in scripts/lib/connect.ts.
 */
import { deliveryWorkflowId, progressQuery } from '../workflows/contracts.js';
import { scriptArgs, withTemporal } from './lib/connect.js';

const { positionals } = scriptArgs('scripts/query.ts <delivery_id>', 1);

await withTemporal('query', async (temporal) => {
  // Queries are answered by a worker from the workflow's state: no history event is written.
  const progress = await temporal.workflow.getHandle(deliveryWorkflowId(positionals[0]!)).query(progressQuery);
  console.log(JSON.stringify(progress));
});
