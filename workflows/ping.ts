import { proxyActivities } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';

// A readiness probe: a few tries, then the caller hears the failure.
const { ping } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 3 } });

/** A round trip through the worker and the database: used by readiness checks and the stack test. */
export async function pingWorkflow(): Promise<string> {
  return ping();
}
