import type { Client } from '@temporalio/client';
import { heraldSearchAttributes } from '../../workflows/contracts.js';

/** Registers Herald's search attributes if the namespace lacks them (self-hosted clusters; Cloud needs tcld). */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<void> {
  const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
  const missing = heraldSearchAttributes.filter((key) => !(key.name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  await client.connection.operatorService.addSearchAttributes({
    namespace,
    // 2 = INDEXED_VALUE_TYPE_KEYWORD
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, 2])),
  });
}
