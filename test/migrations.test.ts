import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { createTestDatabase } from './helpers/stack.js';

describe('database migrations', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('records every applied file and applies nothing twice', async () => {
    const recorded = await database.sql<{ name: string }[]>`select name from herald_migrations order by name`;
    expect(recorded.map((row) => row.name)).toContain('001_init.sql');
    expect(await migrate(database.sql)).toEqual([]);
  });

  it('seeds the operational event types', async () => {
    const rows = await database.sql<{ name: string }[]>`select name from event_types where operational order by name`;
    expect(rows.map((row) => row.name)).toEqual(['v1.endpoint.disabled', 'v1.endpoint.enabled', 'v1.webhook.delivery_failed', 'v1.webhook.test']);
  });

  it('serialises concurrent migrators so both succeed', async () => {
    const results = await Promise.all([migrate(database.sql), migrate(database.sql)]);
    expect(results.flat()).toEqual([]);
  });
});
