import type { Client } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';

/**
 * Asks a workflow a query, giving up after `timeoutMs` (no worker polling, Temporal slow) or on any
 * error (no such workflow): callers fall back to what PostgreSQL says.
 */
export async function queryLive<T>(temporal: Client, workflowId: string, query: QueryDefinition<T, []>, timeoutMs = 2000): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = temporal.workflow.getHandle(workflowId).query(query);
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    return await Promise.race([answer, timeout]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
