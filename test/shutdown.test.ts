import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { spawnHeraldProcess, spawnWorkerProcess, type TestStack } from './helpers/stack.js';
import { receiverPool } from './helpers/receiver.js';
import type { ApiCall } from './helpers/api.js';
import { createEndpoint, startDeliveryStack, eventually, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

/** Graceful shutdown of real processes: SIGTERM, then what happened to the work they had in hand. */
describe('graceful shutdown', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();
  const children: ChildProcess[] = [];

  const exited = (child: ChildProcess) =>
    child.exitCode !== null ? Promise.resolve(child.exitCode) : (once(child, 'exit') as Promise<[number | null]>).then(([code]) => code);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const attemptsOf = (delivery: { attempts_log: { error_class: string | null; success: boolean }[] }) =>
    delivery.attempts_log.map((attempt) => [attempt.error_class, attempt.success]);

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack({ worker: false }));
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await receivers.closeAll();
    await stack?.stop();
  });

  it('lets a worker finish the attempts it has in flight on SIGTERM, then exit 0', async () => {
    const slow = await receivers.start(async (_request, response) => {
      await sleep(2000);
      response.end('ok');
    });
    await createEndpoint(call, tenant, { url: slow.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'], timeout: '10s' });
    const worker = spawnWorkerProcess(stack);
    children.push(worker);
    const published = await Promise.all([1, 2, 3].map((n) => publish(call, tenant, 'v1.case.completed', { n })));
    await slow.waitForRequests(3, 60_000);
    const signalledAt = Date.now();
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
    // It waited for the receiver's answers (about 2 s after the requests arrived) before exiting.
    expect(Date.now() - signalledAt).toBeGreaterThan(1000);
    for (const event of published) {
      const [{ delivery_id }] = event.deliveries;
      const delivery = await waitForDeliveryStatus(call, tenant, delivery_id, ['delivered'], 5000);
      expect(attemptsOf(delivery)).toEqual([[null, true]]);
    }
    expect(slow.requests).toHaveLength(3);
  }, 90_000);

  it('hands an attempt that outlasts HERALD_SHUTDOWN_GRACE_MS back as interrupted; another worker delivers it', async () => {
    let hang = true;
    const target = await receivers.start(async (_request, response) => {
      if (hang) await sleep(20_000);
      response.end('ok');
    });
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: ['1s', '1s'], timeout: '25s' });
    const worker = spawnHeraldProcess(stack, 'src/worker/main.ts', { env: { HERALD_SHUTDOWN_GRACE_MS: '1000' } });
    children.push(worker);
    // (The slow receiver of the previous test is subscribed too; only this endpoint's delivery matters.)
    const published = await publish(call, tenant, 'v1.case.completed', { n: 'handed back' });
    const deliveryId = published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    await target.waitForRequests(1, 60_000);
    worker.kill('SIGTERM');
    hang = false;
    const signalledAt = Date.now();
    expect(await exited(worker)).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(15_000);
    const handedBack = await eventually(async () => {
      const delivery = (await call('GET', `/v1/tenants/${tenant.id}/deliveries/${deliveryId}`, { key: tenant.apiKey })).body;
      return delivery.attempts_log.length > 0 ? delivery : undefined;
    }, 10_000);
    expect(handedBack.status).toBe('retrying');
    expect(handedBack.attempts_log[0]).toMatchObject({ error_class: 'interrupted', success: false });

    await stack.startWorker();
    const delivery = await waitForDeliveryStatus(call, tenant, deliveryId, ['delivered'], 60_000);
    expect(attemptsOf(delivery)).toEqual([
      ['interrupted', false],
      [null, true],
    ]);
    expect(target.requests.map((request) => request.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
    await stack.stopWorker();
  }, 90_000);

  it('stops the API accepting on SIGTERM, finishes the request in flight, then exits 0', async () => {
    const api = spawnHeraldProcess(stack, 'src/api/main.ts', { env: { HERALD_API_PORT: '0', HERALD_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(api);
    const lines = createInterface({ input: api.stdout! });
    const url = await new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg === 'API listening') resolve(record.url!);
      });
      api.once('exit', (code) => reject(new Error(`the API exited (${code}) before listening`)));
    });
    const { hostname, port } = new URL(url);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // A request in flight: headers sent, the body only half.
    const body = JSON.stringify({ name: 'Created while stopping' });
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.write(
      `POST /v1/tenants HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${stack.adminKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await sleep(300);
    api.kill('SIGTERM');
    await sleep(500);

    // No new connections…
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(api.exitCode).toBeNull();
    // …but the one in flight is answered in full, and its connection closed.
    socket.write(body.slice(10));
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('"name":"Created while stopping"');
    expect(await exited(api)).toBe(0);
    const [created] = await stack.sql<{ name: string }[]>`select name from tenants where name = 'Created while stopping'`;
    expect(created?.name).toBe('Created while stopping');
  }, 60_000);
});
