import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { answer, receiverPool, type TestReceiver } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { createEndpoint, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { runNodeEntry } from './helpers/run-node.js';

// Each step spawns the CLI (a node process); on a loaded two-core machine that is seconds apiece.
describe('the herald CLI against a running Herald', { timeout: 120_000 }, () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  let folder: string;
  let target: TestReceiver;
  let endpoint: { id: string; secret: string };
  const receivers = receiverPool();

  /** The CLI as an operator runs it: a separate process, configured by the environment only. */
  const herald = (args: string[], env: Record<string, string | undefined> = {}) =>
    runNodeEntry('src/cli/main.ts', args, {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HERALD_HOME: folder,
      HERALD_URL: stack.apiUrl,
      HERALD_API_KEY: tenant.apiKey,
      HERALD_TENANT: tenant.id,
      ...env,
    });
  const ok = async (args: string[], env?: Record<string, string | undefined>) => {
    const run = await herald(args, env);
    if (run.status !== 0) throw new Error(`herald ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
    return run;
  };

  beforeAll(async () => {
    stack = await startTestStack();
    call = apiClient(stack);
    tenant = await createTenant(call);
    await createEventType(call, 'v1.case.completed');
    folder = await mkdtemp(path.join(os.tmpdir(), 'herald-cli-'));
    target = await receivers.start();
    endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 1000 });
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('has --help on every operator command', async () => {
    const top = await ok(['--help']);
    for (const name of ['endpoints', 'deliveries', 'replay', 'recover', 'events']) expect(top.stdout).toContain(name);
    expect((await ok(['endpoints', '--help'])).stdout).toMatch(/list[\s\S]*show[\s\S]*enable[\s\S]*disable[\s\S]*test/);
    const recover = await ok(['recover', '--help']);
    expect(recover.stdout).toContain('--since <when>');
    expect(recover.stdout).toContain('--tenant <tenant_id>');
    expect((await ok(['deliveries', 'list', '--help'])).stdout).toContain('--status <status>');
  });

  it('publishes an event from a file and from inline JSON, then lists and shows its deliveries', async () => {
    const file = path.join(folder, 'event.json');
    await writeFile(file, JSON.stringify({ case_status: 'from-file' }));
    const fromFile = await ok(['events', 'publish', 'v1.case.completed', '--data', `@${file}`]);
    expect(fromFile.stdout).toMatch(/^event evt_\w+ published to 1 endpoint \(trace trc_\w+\)/);
    const inline = JSON.parse((await ok(['events', 'publish', 'v1.case.completed', '--data', '{"case_status": "inline"}', '--json', '--idempotency-key', 'cli-1'])).stdout);
    expect(inline).toMatchObject({ delivery_count: 1, deliveries: [{ endpoint_id: endpoint.id }] });
    const again = JSON.parse((await ok(['events', 'publish', 'v1.case.completed', '--data', '{"case_status": "inline"}', '--json', '--idempotency-key', 'cli-1'])).stdout);
    expect(again.event_id).toBe(inline.event_id);

    const deliveryId = inline.deliveries[0].delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryId, ['delivered']);
    const received = await target.waitForRequests(2);
    expect(received.map((request) => JSON.parse(request.body).data.case_status).sort()).toEqual(['from-file', 'inline']);

    const table = await ok(['deliveries', 'list', '--status', 'delivered', '--endpoint', endpoint.id, '--since', '1h']);
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+STATUS\s+ATTEMPTS\s+EVENT TYPE\s+ENDPOINT\s+CREATED\s+LAST ERROR$/);
    expect(rows).toHaveLength(2);
    expect(rows.find((row) => row.startsWith(deliveryId))).toMatch(/delivered\s+1\/1\s+v1\.case\.completed/);
    const listed = JSON.parse((await ok(['deliveries', 'list', '--event', inline.event_id, '--json'])).stdout);
    expect(listed.data.map((delivery: { id: string }) => delivery.id)).toEqual([deliveryId]);

    const shown = await ok(['deliveries', 'show', deliveryId]);
    expect(shown.stdout).toMatch(/status:\s+delivered/);
    expect(shown.stdout).toMatch(new RegExp(`workflow:\\s+delivery-${deliveryId}`));
    expect(shown.stdout).toMatch(/#\s+STARTED\s+DELIVERY\s+STATUS\s+MS\s+RESULT\n1\s+\S+\s+whd_\w+\s+200\s+\d+\s+ok/);
  });

  it('lists, shows, disables, enables and tests endpoints', async () => {
    const list = await ok(['endpoints', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${endpoint.id}\\s+yes\\s+green healthy`));
    expect((await ok(['endpoints', 'show', endpoint.id])).stdout).toMatch(/url:\s+http:\/\/127\.0\.0\.1/);

    expect((await ok(['endpoints', 'disable', endpoint.id, '--reason', 'maintenance'])).stdout.trim()).toBe(`endpoint ${endpoint.id} is disabled (maintenance)`);
    expect((await ok(['endpoints', 'show', endpoint.id])).stdout).toMatch(/active:\s+no, maintenance since/);
    expect((await ok(['endpoints', 'enable', endpoint.id])).stdout.trim()).toBe(`endpoint ${endpoint.id} is enabled`);

    const tested = await ok(['endpoints', 'test', endpoint.id]);
    expect(tested.stdout).toMatch(/^ok: HTTP 200 in \d+ ms\n {2}webhook-id: whd_\w+\n {2}webhook-timestamp: \d+\n {2}webhook-signature: v1,/);
    const test = target.requests.at(-1)!;
    expect(JSON.parse(test.body)).toMatchObject({ event_type: 'v1.webhook.test' });

    const broken = await receivers.start(answer(500, 'nope'));
    const failing = await createEndpoint(call, tenant, { url: broken.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 1000 });
    const failed = await herald(['endpoints', 'test', failing.id, '--json']);
    expect(failed.status).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ success: false, status_code: 500, response_excerpt: 'nope' });
    await call('DELETE', `/v1/tenants/${tenant.id}/endpoints/${failing.id}`, { key: tenant.apiKey });
  });

  it('replays a failed delivery and waits for the replay to be delivered', async () => {
    target.respondWith(answer(503));
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'replay' });
    const original = published.deliveries[0].delivery_id;
    await waitForDeliveryStatus(call, tenant, original, ['failed']);
    target.respondWith(answer(200));

    const replayed = await ok(['replay', original, '--wait']);
    const [line, outcome] = replayed.stdout.trim().split('\n');
    expect(line).toMatch(new RegExp(`^replay (whd_\\w+) of ${original} started \\(workflow delivery-whd_\\w+\\)$`));
    expect(outcome).toBe('delivered after 1 attempt');
    const replayId = /^replay (whd_\w+)/.exec(line!)![1]!;
    expect((await call('GET', `/v1/tenants/${tenant.id}/deliveries/${replayId}`, { key: tenant.apiKey })).body).toMatchObject({ status: 'delivered', replay_of: original });
  });

  it('recovers an endpoint’s failed deliveries with a progress bar until done', async () => {
    target.respondWith(answer(500));
    const deliveryIds: string[] = [];
    for (let index = 0; index < 12; index++) deliveryIds.push((await publish(call, tenant, 'v1.case.completed', { case_status: `recover-${index}` })).deliveries[0].delivery_id);
    for (const id of deliveryIds) await waitForDeliveryStatus(call, tenant, id, ['failed']);
    target.respondWith(answer(200));

    const recovered = await ok(['recover', endpoint.id, '--since', '1h', '--batch-size', '5']);
    const failedBefore = (await stack.sql<{ count: number }[]>`
      select count(*)::int as count from deliveries where endpoint_id = ${endpoint.id} and status = 'failed' and recovery_id is null`)[0]!.count;
    expect(recovered.stdout.trim()).toMatch(new RegExp(`^recovery rcv_\\w+ completed: ${failedBefore} of ${failedBefore} deliveries replayed$`));
    const progressLines = recovered.stderr.trim().split('\n');
    expect(progressLines[0]).toMatch(new RegExp(`^recovery rcv_\\w+: ${failedBefore} deliveries to replay \\(workflow recover-rcv_\\w+\\)$`));
    expect(progressLines.at(-1)).toBe(`[${'#'.repeat(30)}] ${failedBefore}/${failedBefore} (100%) replayed`);
    const counts = progressLines.slice(1).map((text) => Number(/\] (\d+)\//.exec(text)![1]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));

    const recoveryId = /^recovery (rcv_\w+)/.exec(recovered.stdout)![1]!;
    const replays = await stack.sql<{ replay_of: string }[]>`select replay_of from deliveries where recovery_id = ${recoveryId}`;
    expect(replays.map((replay) => replay.replay_of)).toEqual(expect.arrayContaining(deliveryIds));
    expect(replays).toHaveLength(failedBefore);

    const started = JSON.parse((await ok(['recover', endpoint.id, '--since', '1h', '--no-wait', '--json'])).stdout);
    expect(started).toMatchObject({ recovery_id: expect.stringMatching(/^rcv_/), count: failedBefore });
  });

  it('replays with scripts/replay.ts and the Temporal SDK only (no API, no PostgreSQL: it starts the replayDelivery workflow)', async () => {
    target.respondWith(answer(500));
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'script' });
    const original = published.deliveries[0].delivery_id;
    await waitForDeliveryStatus(call, tenant, original, ['failed']);
    target.respondWith(answer(200));
    const script = await runNodeEntry('scripts/replay.ts', [original, '--wait'], {
      PATH: process.env.PATH,
      HERALD_HOME: folder,
      TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
    });
    expect(script.status, script.stderr).toBe(0);
    const [line, outcome] = script.stdout.trim().split('\n');
    expect(line).toMatch(new RegExp(`^replay whd_\\w+ of ${original} started \\(workflow delivery-whd_\\w+\\)$`));
    expect(outcome).toBe('delivered after 1 attempt');
    const replayId = /^replay (whd_\w+)/.exec(line!)![1]!;
    expect((await call('GET', `/v1/tenants/${tenant.id}/deliveries/${replayId}`, { key: tenant.apiKey })).body).toMatchObject({ status: 'delivered', replay_of: original });
  });

  it('prints one readable line on stderr and exits non-zero when something is wrong', async () => {
    const missing = await herald(['deliveries', 'show', 'whd_01J7W9S4TSQ0T4SH43JYB9W5R8']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('herald: HTTP 404 not_found: Delivery not found\n');
    expect(missing.stdout).toBe('');

    const noTenant = await herald(['endpoints', 'list'], { HERALD_TENANT: undefined });
    expect(noTenant.status).toBe(2);
    expect(noTenant.stderr).toBe('herald: which tenant? pass --tenant <tenant_id> or set HERALD_TENANT\n');

    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await herald(['endpoints', 'list'], { HERALD_URL: deadUrl });
    expect(unreachable.status).toBe(2);
    expect(unreachable.stderr).toBe(`herald: cannot reach Herald at ${deadUrl}: ECONNREFUSED\n`);

    const badKey = await herald(['endpoints', 'list'], { HERALD_API_KEY: 'sk_wrong' });
    expect(badKey.stderr).toBe('herald: HTTP 401 unauthorized: The API key is not valid\n');

    const badData = await herald(['events', 'publish', 'v1.case.completed', '--data', '{nope']);
    expect(badData.status).toBe(2);
    expect(badData.stderr).toMatch(/^herald: --data is not valid JSON: .*\n$/);

    const badSince = await herald(['recover', endpoint.id]);
    expect(badSince.status).not.toBe(0);
    expect(badSince.stderr).toContain("required option '--since <when>' not specified");

    const noConfig = await herald(['endpoints', 'list'], { HERALD_URL: undefined, HERALD_API_KEY: undefined });
    expect(noConfig.status).toBe(2);
    expect(noConfig.stderr).toMatch(/^herald: no API to talk to: set HERALD_URL/);
  });

  it('falls back to .herald/dev.json for the API URL and key', async () => {
    await writeFile(path.join(folder, 'dev.json'), JSON.stringify({ api_url: stack.apiUrl, admin_key: stack.adminKey }));
    try {
      const listed = await ok(['endpoints', 'list', '--json', '--tenant', tenant.id], { HERALD_URL: undefined, HERALD_API_KEY: undefined, HERALD_TENANT: undefined });
      expect(JSON.parse(listed.stdout).data.map((row: { id: string }) => row.id)).toContain(endpoint.id);
    } finally {
      await rm(path.join(folder, 'dev.json'));
    }
  });
});
