import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { endpointDefaults } from '../src/core/endpoint-defaults.js';
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
    expect(rows.map((row) => row.name)).toEqual(['v1.endpoint.disabled', 'v1.endpoint.enabled', 'v1.endpoint.recovery_finished', 'v1.webhook.delivery_failed', 'v1.webhook.test']);
  });

  it("keeps the endpoints table's column defaults (from 001_init.sql; no code relies on them) equal to endpointDefaults", async () => {
    await database.sql`insert into tenants (id, name) values ('ten_defaults', 'defaults')`;
    const [row] = await database.sql`
      insert into endpoints (id, tenant_id, url, event_types, retry_schedule) values ('ep_defaults', 'ten_defaults', 'https://x.example', '{}', '[]')
      returning description, active, signature, envelope, timeout_ms, disable_after_failures, disable_after_ms`;
    expect(row).toEqual({
      description: endpointDefaults.description,
      active: endpointDefaults.active,
      signature: { profile: endpointDefaults.signatureProfile },
      envelope: endpointDefaults.envelope,
      timeout_ms: endpointDefaults.timeoutMs,
      disable_after_failures: endpointDefaults.disableAfterFailures,
      disable_after_ms: endpointDefaults.disableAfterMs,
    });
  });

  it('serialises concurrent migrators so both succeed', async () => {
    const results = await Promise.all([migrate(database.sql), migrate(database.sql)]);
    expect(results.flat()).toEqual([]);
  });
});
