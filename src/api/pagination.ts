import type { ZodType } from 'zod';
import type { Sql } from '../db/client.js';
import { z } from './openapi.js';

/**
 * Cursor pagination for every list: `?limit=1..100` (default 20) and `?cursor=<the last id or name of
 * the previous page>`; answers `{data: [...], next_cursor}` with next_cursor null on the last page.
 * Ids are ULIDs, so `where id > cursor order by id` is creation order and stable under inserts.
 */

export const paginationQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: 'Page size, 1 to 100' }),
  cursor: z.string().min(1).max(256).optional().openapi({ description: 'The next_cursor of the previous page' }),
});

export type PageRequest = z.output<typeof paginationQuerySchema>;

export interface Page<Item> {
  data: Item[];
  next_cursor: string | null;
}

/** Ask the database for this many rows: one more than the page tells whether another page follows. */
export const rowsToFetch = (page: PageRequest) => page.limit + 1;

/** `<column> > <cursor>`, or `true` on the first page: `where tenant_id = ${id} and ${afterCursor(sql, query.cursor)}`. */
export function afterCursor(sql: Sql, cursor: string | undefined, column = 'id') {
  return cursor ? sql`${sql(column)} > ${cursor}` : sql`true`;
}

/** Turns up to limit + 1 rows (in cursor order) into a page of `limit` items and the cursor that follows. */
export function toPage<Row, Item>(rows: Row[], page: PageRequest, cursorOf: (row: Row) => string, toItem: (row: Row) => Item): Page<Item> {
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { data: items.map(toItem), next_cursor: rows.length > page.limit && last !== undefined ? cursorOf(last) : null };
}

/** The OpenAPI/zod shape of a page of `item`. */
export function pageSchema<T extends ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}
