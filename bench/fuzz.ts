/**
 * The OpenAPI fuzzer of test/fuzz.test.ts at length, against the bench stack (PostgreSQL, Temporal, the worker
 * and the API as separate processes): `npm run fuzz` sends 100,000 generated requests, `npm run fuzz -- --quick`
 * 5,000; `--requests N`, `--seed S` (repeat a run), `--concurrency C`, `--home DIR` (where the stack's data lives).
 * Prints the answers by status and by kind of request, the time taken, and every request answered wrongly
 * (a 5xx, a 4xx without the error shape, a targeted class without its 422); exits 1 if there was one.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createFuzzer, fuzzRequestBatches, sendFuzzRequests, summarizeOutcomes, type FuzzContext, type FuzzOutcome } from '../test/helpers/openapi-fuzz.js';
import type { OpenApiDocument } from '../src/api/openapi.js';
import { apiCaller, startBenchStack } from './lib.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    requests: { type: 'string' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    home: { type: 'string' },
  },
});

const total = Number(args.requests ?? (args.quick ? 5_000 : 100_000));
const seed = Number(args.seed ?? Date.now() % 2 ** 31);
const concurrency = Number(args.concurrency);
for (const [name, value] of Object.entries({ requests: total, seed, concurrency })) {
  if (!Number.isSafeInteger(value) || value < (name === 'seed' ? 0 : 1)) throw new Error(`--${name}: not a usable number`);
}

const startedAt = performance.now();
// Failed authentications are part of the fuzz, so the brute-force limit must not shut it out.
const stack = await startBenchStack({ home: args.home, quiet: true, workerEnv: { HERALD_AUTH_FAILURES_PER_MINUTE: '1000000', HERALD_LOG_LEVEL: 'error' } });
let problems: FuzzOutcome[] = [];
let problemCount = 0;
const byKind: Record<string, Record<string, number>> = {};
let fuzzMs = 0;
try {
  const api = apiCaller(stack.apiUrl, 4);
  const ok = async <T = any>(method: 'GET' | 'POST', path: string, body: unknown, status: number, key = stack.adminKey): Promise<T> => {
    const answer = await api.call<T>(method, path, key, body);
    if (answer.status !== status) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  // The fixtures of test/fuzz.test.ts: two tenants, an endpoint, an event; stable ids for the targeted classes.
  await ok('POST', '/v1/event-types', { name: 'v1.fuzz.tick', description: 'fuzz', schema: { type: 'object' } }, 201);
  await ok('POST', '/v1/event-types', { name: 'v1.fuzz.stable', description: 'fuzz', schema: { type: 'object' } }, 201);
  const tenant = await ok('POST', '/v1/tenants', { name: 'Fuzz A' }, 201);
  const other = await ok('POST', '/v1/tenants', { name: 'Fuzz B' }, 201);
  const endpoint = await ok('POST', `/v1/tenants/${tenant.id}/endpoints`, { url: 'http://127.0.0.1:9/hook', event_types: ['v1.fuzz.tick'] }, 201, tenant.api_key);
  const stableEndpoint = await ok('POST', `/v1/tenants/${tenant.id}/endpoints`, { url: 'http://127.0.0.1:9/stable', event_types: ['v1.fuzz.stable'] }, 201, tenant.api_key);
  const event = await ok('POST', `/v1/tenants/${tenant.id}/events`, { event_type: 'v1.fuzz.tick', data: { n: 1 } }, 202, tenant.api_key);
  const keys = await ok('GET', `/v1/tenants/${tenant.id}/api-keys`, undefined, 200);
  const document = await ok<OpenApiDocument>('GET', '/openapi.json', undefined, 200);
  await api.close();
  const context: FuzzContext = {
    ids: {
      tenant_id: [tenant.id, other.id],
      endpoint_id: [endpoint.id],
      event_id: [event.event_id],
      delivery_id: [event.deliveries[0].delivery_id],
      key_id: keys.data.map((key: { id: string }) => key.id),
      recovery_id: ['rec_00000000000000000000000000'],
      name: ['v1.fuzz.tick'],
    },
    keys: [stack.adminKey, tenant.api_key, other.api_key],
    adminKey: stack.adminKey,
    stable: { tenant_id: tenant.id, endpoint_id: stableEndpoint.id, event_id: event.event_id, delivery_id: event.deliveries[0].delivery_id, name: 'v1.fuzz.stable' },
  };
  const fuzzer = createFuzzer(document, context);
  console.log(`fuzzing ${fuzzer.operations.length} operations with ${total} requests (seed ${seed}, concurrency ${concurrency}; --seed ${seed} repeats the run)`);

  const fuzzStarted = performance.now();
  let sent = 0;
  for (const batch of fuzzRequestBatches(fuzzer.request, { total, seed, batchSize: 2_000 })) {
    const outcomes = await sendFuzzRequests(stack.apiUrl, batch, { concurrency, timeoutMs: 30_000 });
    for (const [kind, statuses] of Object.entries(summarizeOutcomes(outcomes))) {
      const counts = (byKind[kind] ??= {});
      for (const [status, count] of Object.entries(statuses)) counts[status] = (counts[status] ?? 0) + count;
    }
    const wrong = outcomes.filter((outcome) => outcome.problem);
    problemCount += wrong.length;
    if (problems.length < 20) problems = problems.concat(wrong.slice(0, 20 - problems.length));
    sent += outcomes.length;
    const seconds = (performance.now() - fuzzStarted) / 1000;
    console.log(`  ${sent}/${total} in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), ${problemCount} wrong`);
  }
  fuzzMs = performance.now() - fuzzStarted;
} finally {
  await stack.stop();
}

const byStatus: Record<string, number> = {};
for (const statuses of Object.values(byKind)) for (const [status, count] of Object.entries(statuses)) byStatus[status] = (byStatus[status] ?? 0) + count;
const statuses = Object.keys(byStatus).sort((a, b) => Number(a) - Number(b));
console.log(`\n| status | ${statuses.join(' | ')} |\n|---|${statuses.map(() => '---').join('|')}|`);
console.log(`| all | ${statuses.map((status) => byStatus[status]).join(' | ')} |`);
for (const [kind, counts] of Object.entries(byKind).sort()) console.log(`| ${kind} | ${statuses.map((status) => counts[status] ?? 0).join(' | ')} |`);
console.log(`\n${total} requests in ${(fuzzMs / 1000).toFixed(1)} s (${Math.round(total / (fuzzMs / 1000))}/s); ${((performance.now() - startedAt) / 1000).toFixed(1)} s with the stack's start and stop`);
if (problemCount > 0) {
  console.log(`\n${problemCount} answered wrongly (seed ${seed}), the first ${problems.length}:`);
  for (const outcome of problems) {
    const request = outcome.request;
    console.log(`  ${outcome.problem}: [${request.kind}] ${request.method} ${request.path.slice(0, 200)} ${JSON.stringify(request.headers).slice(0, 200)} ${request.body?.slice(0, 200) ?? ''} -> ${outcome.body.slice(0, 300)}`);
  }
  process.exit(1);
}
console.log('no 5xx, every 4xx in the error shape, every targeted class answered as expected');
process.exit(0);
