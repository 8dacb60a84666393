import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Invalid } from '../src/core/errors.js';
import { validateEventData } from '../src/core/event-catalog.js';
import { apiClient, createTenant, errorFields, type ApiCall } from './helpers/api.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

const caseCompletedSchema = {
  type: 'object',
  required: ['case_id', 'case_status'],
  properties: { case_id: { type: 'string' }, case_status: { enum: ['completed'] }, completed_at: { type: 'string', format: 'date-time' } },
};

async function rejection(promise: Promise<unknown>): Promise<Invalid> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Invalid);
  return error as Invalid;
}

describe('the event catalog', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: { id: string; apiKey: string };
  let tenantKey: string;
  /** The API's warnings, one JSON line each. */
  const logLines: string[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, config: { HERALD_LOG_LEVEL: 'warn' }, logDestination: { write: (line: string) => void logLines.push(line) } });
    call = apiClient(stack);
    tenant = await createTenant(call);
    tenantKey = tenant.apiKey;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('adds a versioned event type with its JSON Schema (admin) and serves it to every key', async () => {
    const created = await call('POST', '/v1/event-types', {
      body: { name: 'v1.case.completed', description: 'A case finished', schema: caseCompletedSchema },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'v1.case.completed',
      schema_version: 'v1',
      description: 'A case finished',
      schema: caseCompletedSchema,
      deprecated: false,
      deprecated_at: null,
      operational: false,
    });
    const fetched = await call('GET', '/v1/event-types/v1.case.completed', { key: tenantKey });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(created.body);
  });

  it("lists the catalog by name, Herald's operational types included, a page at a time", async () => {
    for (const name of ['v1.intake.submitted', 'v1.document.processed', 'v2.case.completed']) {
      expect((await call('POST', '/v1/event-types', { body: { name, schema: {} } })).status).toBe(201);
    }
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await call('GET', `/v1/event-types?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { key: tenantKey });
      expect(page.status).toBe(200);
      names.push(...page.body.data.map((type: { name: string }) => type.name));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['v1.webhook.test', 'v1.webhook.delivery_failed', 'v1.endpoint.disabled', 'v1.endpoint.enabled', 'v1.case.completed', 'v2.case.completed']));
    const operational = await call('GET', '/v1/event-types/v1.webhook.delivery_failed');
    expect(operational.body.operational).toBe(true);
  });

  it('keeps catalog writes to the admin key (403 for tenant keys)', async () => {
    const created = await call('POST', '/v1/event-types', { key: tenantKey, body: { name: 'v1.tenant.sneaky', schema: {} } });
    expect(created.status).toBe(403);
    const patched = await call('PATCH', '/v1/event-types/v1.case.completed', { key: tenantKey, body: { deprecated: true } });
    expect(patched.status).toBe(403);
  });

  it('rejects names that are not versioned and dotted (422 naming body.name)', async () => {
    for (const name of ['case.completed', 'V1.case.completed', 'v1', 'v1.Case', 'v1..case', 'v1.case completed', 'x'.repeat(200)]) {
      const answer = await call('POST', '/v1/event-types', { body: { name, schema: {} } });
      expect(answer.status, name).toBe(422);
      expect(errorFields(answer)).toContain('body.name');
    }
  });

  it('rejects a schema that is not a valid JSON Schema (422 naming body.schema)', async () => {
    for (const schema of [{ type: 'objet' }, { type: 'object', requird: ['a'] }, { properties: { a: { minLength: -1 } } }, { format: 'no-such-format', type: 'string' }]) {
      const answer = await call('POST', '/v1/event-types', { body: { name: 'v1.bad.schema', schema } });
      expect(answer.status, JSON.stringify(schema)).toBe(422);
      expect(errorFields(answer)).toEqual(['body.schema']);
    }
    const notAnObject = await call('POST', '/v1/event-types', { body: { name: 'v1.bad.schema', schema: 'string' } });
    expect(notAnObject.status).toBe(422);
    expect(errorFields(notAnObject)).toEqual(['body.schema']);
    expect((await call('GET', '/v1/event-types/v1.bad.schema')).status).toBe(404);
  });

  it('accepts draft 2020-12 schemas named by $schema', async () => {
    const answer = await call('POST', '/v1/event-types', {
      body: { name: 'v1.schema.modern', schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { tags: { type: 'array', prefixItems: [{ type: 'string' }] } }, $defs: { id: { type: 'string' } } } },
    });
    expect(answer.status).toBe(201);
  });

  it('rejects unknown fields and a missing schema (422)', async () => {
    const answer = await call('POST', '/v1/event-types', { body: { name: 'v1.thing.happened', version: 2 } });
    expect(answer.status).toBe(422);
    expect(errorFields(answer).sort()).toEqual(['body.schema', 'body.version']);
  });

  it('refuses to create a type twice, operational ones included (409)', async () => {
    const again = await call('POST', '/v1/event-types', { body: { name: 'v1.case.completed', schema: {} } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    for (const name of ['v1.webhook.test', 'v1.webhook.delivery_failed', 'v1.endpoint.disabled']) {
      expect((await call('POST', '/v1/event-types', { body: { name, schema: {} } })).status).toBe(409);
    }
  });

  it("refuses to change Herald's operational types (403)", async () => {
    for (const name of ['v1.webhook.test', 'v1.webhook.delivery_failed', 'v1.endpoint.enabled']) {
      const answer = await call('PATCH', `/v1/event-types/${name}`, { body: { description: 'mine now' } });
      expect(answer.status, name).toBe(403);
    }
    expect((await call('GET', '/v1/event-types/v1.webhook.test')).body.description).not.toBe('mine now');
  });

  it('changes description, deprecation and schema with PATCH, validating the new schema', async () => {
    await call('POST', '/v1/event-types', { body: { name: 'v1.review.completed', schema: { type: 'object' } } });
    const patched = await call('PATCH', '/v1/event-types/v1.review.completed', { body: { description: 'Reviewed', deprecated: true } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'Reviewed', deprecated: true, schema: { type: 'object' } });
    const bad = await call('PATCH', '/v1/event-types/v1.review.completed', { body: { schema: { type: 7 } } });
    expect(bad.status).toBe(422);
    expect(errorFields(bad)).toEqual(['body.schema']);
    const renamed = await call('PATCH', '/v1/event-types/v1.review.completed', { body: { name: 'v1.other' } });
    expect(renamed.status).toBe(422);
    expect(errorFields(renamed)).toEqual(['body.name']);
    expect((await call('PATCH', '/v1/event-types/v1.never.created', { body: { deprecated: true } })).status).toBe(404);
  });

  it('publishes a deprecated type with a Deprecation header (RFC 9745) and a warning, and marks it in the catalog', async () => {
    const name = 'v1.legacy.ping';
    await call('POST', '/v1/event-types', { body: { name, schema: { type: 'object' } } });
    const publish = () => call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenantKey, body: { event_type: name, data: { n: 1 } } });
    const current = await publish();
    expect(current.status).toBe(202);
    expect(current.headers.get('deprecation')).toBeNull();

    const deprecated = await call('PATCH', `/v1/event-types/${name}`, { body: { deprecated: true } });
    expect(deprecated.body).toMatchObject({ deprecated: true, deprecated_at: expect.any(String) });
    const since = Math.floor(Date.parse(deprecated.body.deprecated_at) / 1000);
    // Deprecating again, or changing something else, keeps the date.
    expect((await call('PATCH', `/v1/event-types/${name}`, { body: { deprecated: true, description: 'old' } })).body.deprecated_at).toBe(deprecated.body.deprecated_at);

    const published = await publish();
    expect(published.status).toBe(202);
    expect(published.body).toEqual({ event_id: expect.any(String), trace_id: expect.any(String), delivery_count: 0, deliveries: [] });
    expect(published.headers.get('deprecation')).toBe(`@${since}`);
    expect(published.headers.get('link')).toBe(`</v1/event-types/${name}>; rel="deprecation"`);
    const warning = logLines.map((line) => JSON.parse(line)).find((record) => record.msg === 'published a deprecated event type');
    expect(warning).toMatchObject({ level: 40, tenant_id: tenant.id, event_type: name, event_id: published.body.event_id });

    const listed = await call('GET', '/v1/event-types?limit=100', { key: tenantKey });
    expect(listed.body.data.find((type: { name: string }) => type.name === name)).toMatchObject({ deprecated: true, deprecated_at: deprecated.body.deprecated_at });
    expect((await call('GET', `/v1/event-types/${name}`, { key: tenantKey })).body).toMatchObject({ deprecated: true, deprecated_at: deprecated.body.deprecated_at });

    const restored = await call('PATCH', `/v1/event-types/${name}`, { body: { deprecated: false } });
    expect(restored.body).toMatchObject({ deprecated: false, deprecated_at: null });
    expect((await publish()).headers.get('deprecation')).toBeNull();
    const createdDeprecated = await call('POST', '/v1/event-types', { body: { name: 'v1.legacy.born_old', schema: {}, deprecated: true } });
    expect(createdDeprecated.body).toMatchObject({ deprecated: true, deprecated_at: expect.any(String) });
  });

  it('answers 404 for a type not in the catalog', async () => {
    expect((await call('GET', '/v1/event-types/v1.not.there', { key: tenantKey })).status).toBe(404);
  });

  describe('validateEventData', () => {
    it('returns the event type when the data matches its schema', async () => {
      const row = await validateEventData(stack.sql, 'v1.case.completed', { case_id: 'c_1', case_status: 'completed', completed_at: '2026-05-01T12:34:56Z' });
      expect(row).toMatchObject({ name: 'v1.case.completed', operational: false });
    });

    it('lists every violation with the field it concerns (Invalid: 422)', async () => {
      const error = await rejection(validateEventData(stack.sql, 'v1.case.completed', { case_status: 'open', completed_at: 'yesterday' }));
      const fields = error.issues.map((issue) => issue.field).sort();
      expect(fields).toEqual(['body.data.case_id', 'body.data.case_status', 'body.data.completed_at']);
    });

    it('refuses a type that is not in the catalog (Invalid: 422)', async () => {
      const error = await rejection(validateEventData(stack.sql, 'v1.nope.nothing', {}));
      expect(error.issues).toEqual([{ field: 'body.event_type', message: expect.any(String), code: 'unknown_event_type' }]);
    });

    it('uses the new schema as soon as a PATCH changed it', async () => {
      await call('POST', '/v1/event-types', { body: { name: 'v1.document.failed', schema: { type: 'object', required: ['document_id'] } } });
      await expect(validateEventData(stack.sql, 'v1.document.failed', { reason: 'x' })).rejects.toThrow(/document_id/);
      const patched = await call('PATCH', '/v1/event-types/v1.document.failed', { body: { schema: { type: 'object', required: ['reason'] } } });
      expect(patched.status).toBe(200);
      await expect(validateEventData(stack.sql, 'v1.document.failed', { reason: 'x' })).resolves.toMatchObject({ name: 'v1.document.failed' });
      // Another process changing the row is noticed by its updated_at too.
      await stack.sql`update event_types set schema = ${stack.sql.json({ type: 'object', required: ['code'] })}, updated_at = now() + interval '1 second' where name = 'v1.document.failed'`;
      await expect(validateEventData(stack.sql, 'v1.document.failed', { reason: 'x' })).rejects.toThrow(/code/);
    });

    it('accepts anything for a type without a schema', async () => {
      await expect(validateEventData(stack.sql, 'v1.webhook.test', { anything: [1, 2] })).resolves.toMatchObject({ operational: true });
    });
  });
});
