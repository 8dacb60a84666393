import { proxyActivities } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';

const { ping } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '10s' });

/** A round trip through the worker and the database: used by readiness checks and the stack test. */
export async function pingWorkflow(): Promise<string> {
  return ping();
}
