import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildOpenApiDocument } from '../src/api/openapi.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { apiClient, createEventType, createTenant } from './helpers/api.js';
import { createEndpoint, publish } from './helpers/deliveries.js';
import { createFuzzer, sendFuzzRequests, summarizeOutcomes, targetedKinds, type FuzzContext } from './helpers/openapi-fuzz.js';

/** FUZZ_REQUESTS and FUZZ_SEED make a longer or a repeated run. */
const requestCount = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

describe('the API under generated requests from its OpenAPI document', () => {
  let stack: TestStack;
  let context: FuzzContext;

  beforeAll(async () => {
    // No worker: published events are stored and their workflows started, never attempted.
    // Failed authentications are part of the fuzz, so the brute-force limit must not shut it out.
    // FUZZ_LOG=error shows the API's log (the cause of a 5xx).
    stack = await startTestStack({ worker: false, config: { HERALD_AUTH_FAILURES_PER_MINUTE: '1000000', HERALD_LOG_LEVEL: process.env.FUZZ_LOG ?? 'silent' } });
    const call = apiClient(stack);
    const eventType = 'v1.fuzz.tick';
    await createEventType(call, eventType);
    const tenant = await createTenant(call, { name: 'Fuzz A' });
    const other = await createTenant(call, { name: 'Fuzz B' });
    const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/hook', event_types: [eventType] });
    const event = await publish(call, tenant, eventType, { n: 1 });
    const keys = await call('GET', `/v1/tenants/${tenant.id}/api-keys`);
    // For the targeted classes only: the generated requests never see these ids, so cannot delete or change them.
    const stableEventType = 'v1.fuzz.stable';
    await createEventType(call, stableEventType);
    const stableEndpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/stable', event_types: [stableEventType] });
    context = {
      adminKey: stack.adminKey,
      stable: { tenant_id: tenant.id, endpoint_id: stableEndpoint.id, event_id: event.event_id, delivery_id: event.deliveries[0].delivery_id, name: stableEventType },
      maxJsonDepth: stack.config.HERALD_MAX_JSON_DEPTH,
      ids: {
        tenant_id: [tenant.id, other.id],
        endpoint_id: [endpoint.id],
        event_id: [event.event_id],
        delivery_id: [event.deliveries[0].delivery_id],
        key_id: keys.body.data.map((key: { id: string }) => key.id),
        recovery_id: ['rec_00000000000000000000000000'],
        name: [eventType],
      },
      keys: [stack.adminKey, tenant.apiKey, other.apiKey],
    };
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it(`answers ${requestCount} generated requests without a 5xx, every 4xx in the error shape, and each targeted class (deep bodies, date edges, herald: idempotency keys, protected header names, operational event types) with its 422`, async () => {
    const document = buildOpenApiDocument();
    const fuzzer = createFuzzer(document, context);
    expect(fuzzer.operations.length).toBeGreaterThanOrEqual(25);
    expect(fuzzer.targetedKinds).toEqual([...targetedKinds]);
    const started = Date.now();
    const requests = fc.sample(fuzzer.request, { numRuns: requestCount, seed });
    const generatedMs = Date.now() - started;
    const outcomes = await sendFuzzRequests(stack.apiUrl, requests, { concurrency: 8, timeoutMs: 20_000 });
    const summary = summarizeOutcomes(outcomes);
    console.log(`fuzz: ${requestCount} requests (seed ${seed}) generated in ${generatedMs} ms, answered in ${Date.now() - started - generatedMs} ms; by kind and status: ${JSON.stringify(summary)}`);
    // Every targeted class was sent, often enough to have met its check more than by chance.
    for (const kind of targetedKinds) expect(Object.values(summary[kind] ?? {}).reduce((sum, count) => sum + count, 0), kind).toBeGreaterThanOrEqual(Math.min(20, requestCount / 500));

    const byOperation = new Map<string, Set<number>>();
    for (const outcome of outcomes) byOperation.set(outcome.request.operation, (byOperation.get(outcome.request.operation) ?? new Set()).add(outcome.status));
    // Every route of the document was reached, and more than its 401/404 gate: something got past validation.
    for (const operation of fuzzer.operations) expect(byOperation.get(operation), operation).toBeDefined();
    const passedValidation = fuzzer.operations.filter((operation) => [...byOperation.get(operation)!].some((status) => status < 300 || status === 409));
    expect(passedValidation.length, `operations answered 2xx/409: ${passedValidation.join(', ')}`).toBeGreaterThanOrEqual(fuzzer.operations.length / 2);

    // This stack runs no worker, so "retry now" (a Temporal update a worker must run) is honestly 503 unavailable.
    const noWorkerAnswer = (outcome: (typeof outcomes)[number]) =>
      outcome.status === 503 && /\/deliveries\/[^/]+\/retry(\?|$)/.test(outcome.request.path) && outcome.body.includes('"code":"unavailable"');
    const problems = outcomes.filter((outcome) => outcome.problem && !noWorkerAnswer(outcome));
    const report = problems.slice(0, 10).map((outcome) => `${outcome.problem}: ${outcome.request.method} ${outcome.request.path.slice(0, 200)} ${JSON.stringify(outcome.request.headers).slice(0, 200)} ${outcome.request.body?.slice(0, 300)} -> ${outcome.body.slice(0, 300)}`);
    expect(report, `seed ${seed} (FUZZ_SEED=${seed} repeats the run)`).toEqual([]);
    expect(outcomes.length).toBe(requestCount);
  }, 240_000);
});
