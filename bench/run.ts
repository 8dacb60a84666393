/**
 * Herald's benchmark: `npm run bench -- --scenario all [--quick]`.
 * Every figure is reported with the raw floor measured in the same run (plain signed POSTs to the
 * same receiver at the same concurrency): these machines are noisy, ratios travel better than rates.
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { generateSigningSecret } from '../src/core/crypto.js';
import { buildEnvelope } from '../src/core/envelope.js';
import { newId } from '../src/core/ids.js';
import { builtInProfiles, signatureHeaders } from '../src/core/signing.js';
import { repositoryRoot } from '../src/stack/temporal.js';
import { Client, Connection } from '@temporalio/client';
import { attemptFailedHealthSignal, endpointHealthWorkflowId, healthQuery, workflowTypes, type AttemptReport, type EndpointHealthWorkflow } from '../workflows/contracts.js';
import { apiCaller, cpuSeconds, percentile, runPool, startBenchReceiver, startBenchStack, waitUntil, type BenchStack } from './lib.js';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    quick: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '32' },
    'publish-concurrency': { type: 'string', default: '16' },
    /** Where the benchmark's PostgreSQL cluster and Temporal file live (default .herald/bench). */
    home: { type: 'string' },
    /** Size overrides, e.g. `throughputEvents=50,fanout=2000`. */
    sizes: { type: 'string' },
    /** Where the JSON results go (default bench/out/bench-<time>.json). */
    out: { type: 'string' },
  },
});

const quick = args.quick!;
const sizes = quick
  ? { floor: 2000, throughputEndpoints: 10, throughputEvents: 30, latencyRate: 20, latencySeconds: 5, fanout: 200, retryParked: 200, healthyEvents: 50, healthSignals: 200 }
  : { floor: 20000, throughputEndpoints: 100, throughputEvents: 200, latencyRate: 200, latencySeconds: 60, fanout: 10000, retryParked: 10000, healthyEvents: 1000, healthSignals: 5000 };
for (const pair of args.sizes ? args.sizes.split(',') : []) {
  const [name, value] = pair.split('=');
  if (!name || !(name in sizes) || !Number.isFinite(Number(value))) throw new Error(`--sizes: unknown or bad entry "${pair}"; sizes are ${Object.keys(sizes).join(', ')}`);
  sizes[name as keyof typeof sizes] = Number(value);
}
const concurrency = Number(args.concurrency);
const publishConcurrency = Number(args['publish-concurrency']);
const wanted = args.scenario === 'all' ? ['floor', 'throughput', 'latency', 'fanout', 'retry', 'health', 'hostile'] : args.scenario!.split(',');

interface ScenarioResult {
  scenario: string;
  figures: Record<string, number | string>;
  cpu: Record<string, number>;
  correctness: { expected: number; received: number; unique: number; verified: number };
}

const secret = generateSigningSecret();
const receiver = await startBenchReceiver(secret);
const results: ScenarioResult[] = [];
let stack: BenchStack | undefined;

async function measured(scenario: string, run: () => Promise<{ figures: Record<string, number | string>; expected: number; since: number }>) {
  const groups = stack ? stack.processes() : {};
  const before = cpuSeconds(groups);
  const started = Date.now();
  const { figures, expected, since } = await run();
  const after = cpuSeconds(groups);
  const wall = (Date.now() - started) / 1000;
  const cpu = Object.fromEntries(Object.keys(after).map((name) => [name, Math.round(((after[name]! - (before[name] ?? 0)) / wall) * 100)]));
  const mine = receiver.receipts.filter((receipt) => receipt.receivedAt >= since);
  const result: ScenarioResult = {
    scenario,
    figures,
    cpu,
    correctness: { expected, received: mine.length, unique: new Set(mine.map((r) => r.deliveryId)).size, verified: mine.filter((r) => r.verified).length },
  };
  results.push(result);
  console.log(`\n${scenario}: ${JSON.stringify(figures)}\n  cpu % of one core: ${JSON.stringify(cpu)}\n  correctness: ${JSON.stringify(result.correctness)}`);
}

/** Plain signed POSTs: the physical limit of this machine, the denominator of every ratio. */
async function rawFloor() {
  const pool = new Pool(receiver.url('/'), { connections: concurrency, pipelining: 1 });
  const profile = builtInProfiles['standard-webhooks'];
  const since = performance.timeOrigin + performance.now();
  const started = performance.now();
  await runPool(sizes.floor, concurrency, async () => {
    const deliveryId = newId('delivery');
    const body = buildEnvelope('herald', { eventId: newId('event'), deliveryId, eventType: 'v1.bench.tick', schemaVersion: 'v1', traceId: newId('trace'), createdAt: new Date(), data: { n: 1 } });
    const headers = signatureHeaders({ profile, secrets: [secret], messageId: deliveryId, timestamp: Math.floor(Date.now() / 1000), body, clientId: 'bench' });
    const response = await pool.request({ method: 'POST', path: '/ok/floor', headers: { 'content-type': 'application/json', ...headers }, body });
    await response.body.dump();
  });
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { figures: { deliveries: sizes.floor, per_second: Math.round(sizes.floor / seconds) }, expected: sizes.floor, since };
}

async function setupTenant(api: ReturnType<typeof apiCaller>, name: string, maxEndpoints: number) {
  const tenant = await api.call('POST', '/v1/tenants', stack!.adminKey, { name, max_endpoints: maxEndpoints });
  if (tenant.status !== 201) throw new Error(`tenant: ${JSON.stringify(tenant.body)}`);
  return { id: tenant.body.id as string, key: tenant.body.api_key as string };
}

async function createEndpoints(api: ReturnType<typeof apiCaller>, tenant: { id: string; key: string }, count: number, pathPrefix: string, extra: Record<string, unknown> = {}) {
  const ids: string[] = [];
  await runPool(count, 8, async (index) => {
    const created = await api.call('POST', `/v1/tenants/${tenant.id}/endpoints`, tenant.key, {
      url: receiver.url(`${pathPrefix}/${index}`),
      event_types: ['v1.bench.tick'],
      secret,
      ...extra,
    });
    if (created.status !== 201) throw new Error(`endpoint: ${JSON.stringify(created.body)}`);
    ids.push(created.body.id);
  });
  return ids;
}

async function publishMany(api: ReturnType<typeof apiCaller>, tenant: { id: string; key: string }, count: number, parallel: number, onPublished?: (eventId: string, sentAt: number) => void) {
  await runPool(count, parallel, async (index) => {
    const sentAt = performance.timeOrigin + performance.now();
    const published = await api.call('POST', `/v1/tenants/${tenant.id}/events`, tenant.key, { event_type: 'v1.bench.tick', data: { n: index } });
    if (published.status !== 202) throw new Error(`publish: ${published.status} ${JSON.stringify(published.body)}`);
    onPublished?.(published.body.event_id, sentAt);
  });
}

const receivedSince = (since: number) => receiver.receipts.filter((receipt) => receipt.receivedAt >= since);

async function throughput(api: ReturnType<typeof apiCaller>) {
  const tenant = await setupTenant(api, 'bench-throughput', sizes.throughputEndpoints);
  await createEndpoints(api, tenant, sizes.throughputEndpoints, '/ok/throughput');
  const expected = sizes.throughputEndpoints * sizes.throughputEvents;
  const since = performance.timeOrigin + performance.now();
  const publishStarted = performance.now();
  await publishMany(api, tenant, sizes.throughputEvents, publishConcurrency);
  const publishSeconds = (performance.now() - publishStarted) / 1000;
  await waitUntil(() => receivedSince(since).length >= expected, 30 * 60_000, 'throughput deliveries');
  const mine = receivedSince(since).map((r) => r.receivedAt).sort((a, b) => a - b);
  const seconds = (mine.at(-1)! - mine[0]!) / 1000;
  return { figures: { deliveries: expected, per_second: Math.round(expected / seconds), publish_per_second: Math.round(sizes.throughputEvents / publishSeconds) }, expected, since };
}

async function latency(api: ReturnType<typeof apiCaller>) {
  const tenant = await setupTenant(api, 'bench-latency', 1);
  await createEndpoints(api, tenant, 1, '/ok/latency');
  const sent = new Map<string, number>();
  const total = sizes.latencyRate * sizes.latencySeconds;
  const since = performance.timeOrigin + performance.now();
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  // Open loop: requests leave on a fixed clock, whether or not earlier ones have finished.
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1000) / sizes.latencyRate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(publishMany(api, tenant, 1, 1, (eventId, sentAt) => sent.set(eventId, sentAt)));
  }
  await Promise.all(inFlight);
  await waitUntil(() => receivedSince(since).length >= total, 10 * 60_000, 'latency deliveries');
  const latencies = receivedSince(since).map((r) => r.receivedAt - (sent.get(r.eventId) ?? r.receivedAt)).sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    figures: { offered_per_second: sizes.latencyRate, seconds: sizes.latencySeconds, p50_ms: round(percentile(latencies, 50)), p95_ms: round(percentile(latencies, 95)), p99_ms: round(percentile(latencies, 99)), max_ms: round(latencies.at(-1)!) },
    expected: total,
    since,
  };
}

async function fanout(api: ReturnType<typeof apiCaller>) {
  const tenant = await setupTenant(api, 'bench-fanout', sizes.fanout);
  const [first] = await createEndpoints(api, tenant, 1, '/ok/fanout');
  // The other endpoints are copies of the first made in SQL: registering 10,000 through the API is not what this measures.
  await stack!.sql`
    insert into endpoints (id, tenant_id, url, description, event_types, active, headers_ciphertext, signature, envelope, retry_schedule,
                           timeout_ms, disable_after_failures, disable_after_ms, rate_limit)
    select ${first!} || '_' || n, tenant_id, url || '_' || n, description, event_types, active, headers_ciphertext, signature, envelope, retry_schedule,
           timeout_ms, disable_after_failures, disable_after_ms, rate_limit
    from endpoints, generate_series(2, ${sizes.fanout}) n where id = ${first!}`;
  await stack!.sql`
    insert into endpoint_secrets (id, endpoint_id, ciphertext, last_four)
    select 'sec_' || e.id, e.id, s.ciphertext, s.last_four from endpoints e, endpoint_secrets s
    where e.tenant_id = ${tenant.id} and e.id <> ${first!} and s.endpoint_id = ${first!}`;
  const since = performance.timeOrigin + performance.now();
  const started = performance.now();
  await publishMany(api, tenant, 1, 1);
  await waitUntil(() => receivedSince(since).length >= sizes.fanout, 60 * 60_000, 'fan-out deliveries');
  const lastReceipt = Math.max(...receivedSince(since).map((r) => r.receivedAt));
  return { figures: { endpoints: sizes.fanout, seconds_to_last_receipt: Math.round((lastReceipt - (performance.timeOrigin + started)) / 100) / 10 }, expected: sizes.fanout, since };
}

function rssMegabytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function retryLoad(api: ReturnType<typeof apiCaller>) {
  const since = performance.timeOrigin + performance.now();
  const healthy = await setupTenant(api, 'bench-healthy', 10);
  await createEndpoints(api, healthy, 10, '/ok/healthy');
  const healthyRate = async () => {
    const since = performance.timeOrigin + performance.now();
    await publishMany(api, healthy, sizes.healthyEvents / 10, publishConcurrency);
    await waitUntil(() => receivedSince(since).length >= sizes.healthyEvents, 30 * 60_000, 'healthy deliveries');
    const times = receivedSince(since).map((r) => r.receivedAt).sort((a, b) => a - b);
    return sizes.healthyEvents / ((times.at(-1)! - since) / 1000);
  };
  const baseline = await healthyRate();

  const failing = await setupTenant(api, 'bench-failing', 20);
  await createEndpoints(api, failing, 20, '/fail', { retry_schedule: ['1h'], disable_after_failures: 1000 });
  const diskBefore = { temporal: fileMegabytes(stack!.temporalDb), postgres: await databaseMegabytes() };
  const failuresBefore = receiver.failuresAnswered();
  await publishMany(api, failing, sizes.retryParked / 20, publishConcurrency);
  await waitUntil(() => receiver.failuresAnswered() - failuresBefore >= sizes.retryParked, 60 * 60_000, 'parked deliveries');
  const duringRetry = await healthyRate();
  const workerPid = stack!.processes().worker![0]!;
  return {
    figures: {
      parked_in_retry: sizes.retryParked,
      healthy_per_second_before: Math.round(baseline),
      healthy_per_second_during: Math.round(duringRetry),
      healthy_ratio: Math.round((duringRetry / baseline) * 100) / 100,
      worker_rss_mb: rssMegabytes(workerPid),
      temporal_disk_growth_mb: Math.round((fileMegabytes(stack!.temporalDb) - diskBefore.temporal) * 10) / 10,
      postgres_disk_growth_mb: Math.round(((await databaseMegabytes()) - diskBefore.postgres) * 10) / 10,
    },
    expected: sizes.healthyEvents * 2,
    since,
  };
}

/** How many attempt reports one endpoint's health workflow absorbs per second (a hot failing endpoint sends many). */
async function healthSignals() {
  const connection = await Connection.connect({ address: stack!.temporalAddress });
  const client = new Client({ connection });
  const endpointId = newId('endpoint');
  const handle = client.workflow.getHandle(endpointHealthWorkflowId(endpointId));
  const started = performance.now();
  await runPool(sizes.healthSignals, concurrency, async (index) => {
    await client.workflow.signalWithStart<EndpointHealthWorkflow, [AttemptReport]>(workflowTypes.endpointHealth, {
      workflowId: endpointHealthWorkflowId(endpointId),
      taskQueue: stack!.taskQueue,
      args: [{ endpointId, tenantId: 'ten_bench' }],
      signal: attemptFailedHealthSignal,
      signalArgs: [{ delivery_id: `whd_bench_${index}`, attempt: 1, at: new Date().toISOString(), status_code: 500, error_class: 'http_status', disable_after_failures: 1_000_000 }],
    });
  });
  const sent = performance.now();
  await waitUntil(async () => (await handle.query(healthQuery)).consecutive_failures >= sizes.healthSignals, 10 * 60_000, 'health reports counted');
  const counted = performance.now();
  await connection.close();
  return {
    figures: {
      reports: sizes.healthSignals,
      sent_per_second: Math.round(sizes.healthSignals / ((sent - started) / 1000)),
      counted_per_second: Math.round(sizes.healthSignals / ((counted - started) / 1000)),
    },
    expected: 0,
    since: performance.timeOrigin + performance.now(),
  };
}

function fileMegabytes(file: string): number {
  let bytes = 0;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      bytes += statSync(`${file}${suffix}`).size;
    } catch {}
  }
  return bytes / 1024 / 1024;
}

/**
 * Hostile input (issue 19): publishes whose `data` nests 100,000 levels deep (about 200 KB) must be refused in
 * milliseconds, and must not slow /healthz while 20 of them run at once. Baselines from the same run: the same
 * request with shallow data (accepted), and /healthz with nothing else running.
 */
async function hostileInput(api: ReturnType<typeof apiCaller>) {
  const tenant = await setupTenant(api, 'bench-hostile', 1);
  const depth = 100_000;
  const deep = `{"event_type":"v1.bench.tick","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  const shallow = `{"event_type":"v1.bench.tick","data":{"pad":"${'x'.repeat(deep.length - 60)}"}}`;
  const pool = new Pool(stack!.apiUrl, { connections: 24, pipelining: 1 });
  const send = async (body: string) => {
    const started = performance.now();
    const response = await pool.request({ method: 'POST', path: `/v1/tenants/${tenant.id}/events`, headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' }, body });
    const text = await response.body.text();
    return { ms: performance.now() - started, status: response.statusCode, code: response.statusCode === 422 ? JSON.parse(text).error.code : undefined };
  };
  const healthz = async () => {
    const started = performance.now();
    const response = await pool.request({ method: 'GET', path: '/healthz' });
    await response.body.dump();
    return performance.now() - started;
  };
  const rounds = quick ? 10 : 50;
  const deepMs: number[] = [];
  const shallowMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const refused = await send(deep);
    if (refused.code !== 'too_deep') throw new Error(`a deep body was answered ${refused.status} ${refused.code}`);
    deepMs.push(refused.ms);
    shallowMs.push((await send(shallow)).ms);
  }
  const idleHealth: number[] = [];
  for (let round = 0; round < rounds; round++) idleHealth.push(await healthz());
  const floodHealth: number[] = [];
  let flooding = true;
  const probe = (async () => {
    while (flooding) floodHealth.push(await healthz());
  })();
  const floods = await Promise.all(Array.from({ length: 20 }, () => send(deep)));
  flooding = false;
  await probe;
  await pool.close();
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const round1 = (value: number) => Math.round(value * 10) / 10;
  return {
    figures: {
      deep_p50_ms: round1(percentile(sorted(deepMs), 50)),
      deep_max_ms: round1(Math.max(...deepMs)),
      shallow_same_size_p50_ms: round1(percentile(sorted(shallowMs), 50)),
      flood_of_20_max_ms: round1(Math.max(...floods.map((flood) => flood.ms))),
      healthz_idle_p50_ms: round1(percentile(sorted(idleHealth), 50)),
      healthz_during_flood_p50_ms: round1(percentile(sorted(floodHealth), 50)),
      healthz_during_flood_max_ms: round1(Math.max(...floodHealth)),
      healthz_probes_during_flood: floodHealth.length,
    },
    expected: 0,
    since: performance.timeOrigin + performance.now(),
  };
}

async function databaseMegabytes(): Promise<number> {
  const [row] = await stack!.sql<{ bytes: string }[]>`select pg_database_size(current_database())::text as bytes`;
  return Number(row!.bytes) / 1024 / 1024;
}

try {
  if (wanted.includes('floor')) await measured('raw floor', rawFloor);
  if (wanted.some((name) => name !== 'floor')) {
    stack = await startBenchStack({ home: args.home });
    const api = apiCaller(stack.apiUrl, publishConcurrency);
    await api.call('POST', '/v1/event-types', stack.adminKey, { name: 'v1.bench.tick', description: 'Benchmark event', schema: { type: 'object' } });
    // Warm-up, not measured: the worker bundles its workflows and opens its pools on first use.
    const warmup = await setupTenant(api, 'bench-warmup', 1);
    await createEndpoints(api, warmup, 1, '/ok/warmup');
    const warmupSince = performance.timeOrigin + performance.now();
    await publishMany(api, warmup, 20, 4);
    await waitUntil(() => receivedSince(warmupSince).length >= 20, 120_000, 'warm-up deliveries');
    if (wanted.includes('throughput')) await measured('throughput', () => throughput(api));
    if (wanted.includes('latency')) await measured('latency', () => latency(api));
    if (wanted.includes('fanout')) await measured('fan-out', () => fanout(api));
    if (wanted.includes('retry')) await measured('retry load', () => retryLoad(api));
    if (wanted.includes('health')) await measured('health signals', healthSignals);
    if (wanted.includes('hostile')) await measured('hostile input', () => hostileInput(api));
    await api.close();
  }
} finally {
  await stack?.stop();
  await receiver.close();
}

const floor = results.find((result) => result.scenario === 'raw floor')?.figures.per_second as number | undefined;
const throughputRate = results.find((result) => result.scenario === 'throughput')?.figures.per_second as number | undefined;
if (floor && throughputRate) results.find((result) => result.scenario === 'throughput')!.figures.ratio_to_floor = Math.round((throughputRate / floor) * 1000) / 1000;

console.log('\n| scenario | figures | cpu % (temporal / worker / api / postgres / bench) | received / expected, unique, verified |');
console.log('|---|---|---|---|');
for (const result of results) {
  const cpu = ['temporal', 'worker', 'api', 'postgres', 'bench'].map((name) => result.cpu[name] ?? '-').join(' / ');
  const c = result.correctness;
  console.log(`| ${result.scenario} | ${Object.entries(result.figures).map(([k, v]) => `${k}=${v}`).join(', ')} | ${cpu} | ${c.received}/${c.expected}, ${c.unique}, ${c.verified} |`);
}
const file = args.out ? path.resolve(args.out) : path.join(repositoryRoot, 'bench', 'out', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
await mkdir(path.dirname(file), { recursive: true });
await writeFile(file, JSON.stringify({ quick, concurrency, publishConcurrency, sizes, results }, null, 2));
console.log(`\nwritten to ${path.relative(repositoryRoot, file)}`);
process.exit(0);
