import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { deliveryWorkflowId, endpointHealthWorkflowId } from '../workflows/contracts.js';
import type { TestStack } from './helpers/stack.js';
import { receiverPool } from './helpers/receiver.js';
import { resettingReceiver, type HostileReceiver } from './helpers/hostile-receivers.js';
import type { ApiCall } from './helpers/api.js';
import { createEndpoint, startDeliveryStack, eventually, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

/**
 * Endpoint secrets and custom header values are the tenant's keys to its receivers. Herald shows a
 * secret once (creation, rotation) and otherwise never: not in logs, workflow histories, listings or
 * error messages. Every check searches for the full values and for telling fragments of them.
 */
const secret = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LW5vYm9keS1zZWVz';
const headerValue = 'Bearer receiver-token-7f3a9c1e5b';
const otherHeaderValue = 'tenant-api-key-0d8e2b6a4c';
const needles = [secret, secret.slice(6, 26), headerValue, 'receiver-token-7f3a9c1e5b', otherHeaderValue];

const leaks = (text: string) => needles.filter((needle) => text.includes(needle));

/** pino output captured line by line. */
function captureLogs() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) }, text: () => lines.join('') };
}

describe('secrets in logs (pino redaction)', () => {
  it('redacts secrets and header values in every shape Herald logs', async () => {
    const captured = captureLogs();
    const logger = createLogger('trace', 'herald-test', captured.destination);
    const endpoint = { id: 'ep_1', url: 'https://example.com/hook', secret, secrets: [secret], headers: { authorization: headerValue, 'x-api-key': otherHeaderValue } };
    logger.info({ endpoint }, 'an endpoint record');
    logger.info({ delivery: { endpoint } }, 'nested two levels down');
    logger.info({ secret, headers: endpoint.headers }, 'top level');
    logger.info({ req: { method: 'POST', url: '/v1/tenants/t/endpoints', headers: { authorization: headerValue, cookie: otherHeaderValue } } }, 'a request');
    // postgres.js attaches a query's values to its errors (enumerable in debug mode); undici errors may carry headers.
    const postgresError = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505', query: 'insert into x values ($1, $2)', parameters: [secret, headerValue] });
    logger.error({ err: postgresError }, 'query failed');
    const undiciError = Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', headers: endpoint.headers }) });
    logger.error({ err: undiciError, endpoint_id: 'ep_1' }, 'request failed');
    const bodyParserError = Object.assign(new Error('Unexpected token'), { type: 'entity.parse.failed', status: 400, body: `{"secret":"${secret}"` });
    logger.warn({ err: bodyParserError }, 'bad body');
    logger.info({ config: { HERALD_ADMIN_KEY: otherHeaderValue, HERALD_ENCRYPTION_KEY: secret, DATABASE_URL: `postgres://herald:${otherHeaderValue}@db/herald` } }, 'config');

    expect(captured.lines).toHaveLength(8);
    expect(leaks(captured.text())).toEqual([]);
    expect(captured.text().match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(8);
    // What is not secret is still there to debug with.
    const records = captured.lines.map((line) => JSON.parse(line));
    expect(records[0].endpoint).toMatchObject({ id: 'ep_1', url: 'https://example.com/hook', secret: '[redacted]', headers: '[redacted]' });
    expect(records[4].err).toMatchObject({ code: '23505', message: 'duplicate key value violates unique constraint', parameters: '[redacted]' });
    // pino's error serializer folds causes into message and stack (their own fields are dropped).
    expect(records[5].err.message).toBe('fetch failed: other side closed');
  });

  it('never writes them while endpoints are registered and deliveries fail in every way (API and worker logs at trace)', async () => {
    const captured = captureLogs();
    const { stack, call, tenant } = await startDeliveryStack({ config: { HERALD_LOG_LEVEL: 'trace' }, logDestination: captured.destination });
    const receivers = receiverPool();
    const resetting = await resettingReceiver('reset');
    try {
      const echo = await receivers.start((request, response) => void response.writeHead(500).end(JSON.stringify(request.headers)));
      for (const url of [echo.url, resetting.url, 'http://127.0.0.1:9/refused']) {
        await createEndpoint(call, tenant, { url, secret, event_types: ['v1.case.completed'], retry_schedule: [], headers: { Authorization: headerValue, 'X-Api-Key': otherHeaderValue } });
      }
      // A request Herald answers 500 to is logged with its error: make PostgreSQL fail one that carries a secret.
      await stack.sql`alter table endpoint_secrets rename to endpoint_secrets_moved`;
      const failed = await call('POST', `/v1/tenants/${tenant.id}/endpoints`, { key: tenant.apiKey, body: { url: echo.url, secret, headers: { Authorization: headerValue }, event_types: ['*'] } });
      await stack.sql`alter table endpoint_secrets_moved rename to endpoint_secrets`;
      expect(failed.status).toBe(500);
      expect(captured.lines.some((line) => line.includes('request failed'))).toBe(true);
      const published = await publish(call, tenant, 'v1.case.completed', { n: 1 });
      for (const delivery of published.deliveries) await waitForDeliveryStatus(call, tenant, delivery.delivery_id, ['failed']);
      await stack.stopWorker();
      expect(leaks(captured.text())).toEqual([]);
    } finally {
      await resetting.close();
      await receivers.closeAll();
      await stack.stop();
    }
  }, 60_000);
});

describe('secrets in workflow histories, listings and error messages', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();
  let hostile: HostileReceiver | undefined;

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack());
  });
  afterAll(async () => {
    await hostile?.close();
    await receivers.closeAll();
    await stack?.stop();
  });

  it('keeps them out of the histories of every delivery and endpoint-health workflow a run started', async () => {
    // A receiver that echoes the request headers (the custom ones included) in its failing answers.
    let calls = 0;
    const echo = await receivers.start((request, response) => void response.writeHead(calls++ === 0 ? 500 : 200).end(JSON.stringify(request.headers)));
    hostile = await resettingReceiver('destroy');
    const headers = { Authorization: headerValue, 'X-Api-Key': otherHeaderValue };
    const retried = await createEndpoint(call, tenant, { url: echo.url, secret, headers, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const failing = await createEndpoint(call, tenant, { url: hostile.url, secret, headers, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 1 });
    const published = await publish(call, tenant, 'v1.case.completed', { n: 1 });
    const deliveryTo = (endpointId: string) => published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpointId).delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryTo(retried.id), ['delivered']);
    await waitForDeliveryStatus(call, tenant, deliveryTo(failing.id), ['failed']);
    // The failing endpoint is deactivated by its health workflow (1 failure), which then announces it.
    await eventually(async () => ((await call('GET', `/v1/tenants/${tenant.id}/endpoints/${failing.id}`, { key: tenant.apiKey })).body.active === false ? true : undefined));

    const workflowIds: string[] = [];
    for await (const execution of stack.temporal.workflow.list({ query: `TaskQueue = '${stack.config.TEMPORAL_TASK_QUEUE}'` })) workflowIds.push(execution.workflowId);
    expect(workflowIds).toEqual(
      expect.arrayContaining([
        deliveryWorkflowId(deliveryTo(retried.id)),
        deliveryWorkflowId(deliveryTo(failing.id)),
        endpointHealthWorkflowId(retried.id),
        endpointHealthWorkflowId(failing.id),
      ]),
    );
    for (const workflowId of new Set(workflowIds)) {
      const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
      const text = JSON.stringify(history, (_key, value) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
      expect(leaks(text), workflowId).toEqual([]);
    }
  }, 60_000);

  it('masks them in every answer after the one that creates or rotates the secret', async () => {
    const target = await receivers.start();
    const created = await createEndpoint(call, tenant, { url: target.url, secret, headers: { Authorization: headerValue, 'X-Short': 'abc' } });
    expect(created.secret).toBe(secret);
    expect(created.headers).toEqual({ Authorization: `****${headerValue.slice(-4)}`, 'X-Short': '****' });
    const base = `/v1/tenants/${tenant.id}/endpoints`;
    const answers = [
      await call('GET', `${base}/${created.id}`, { key: tenant.apiKey }),
      await call('GET', `${base}?limit=100`, { key: tenant.apiKey }),
      await call('PATCH', `${base}/${created.id}`, { key: tenant.apiKey, body: { description: 'changed' } }),
      await call('POST', `${base}/${created.id}/disable`, { key: tenant.apiKey, body: {} }),
      await call('POST', `${base}/${created.id}/enable`, { key: tenant.apiKey, body: {} }),
      await call('GET', `${base}/${created.id}`),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(leaks(JSON.stringify(answer.body))).toEqual([]);
    }
    expect(answers[0]!.body).toMatchObject({ secret: `whsec_****${secret.slice(-4)}`, headers: { Authorization: `****${headerValue.slice(-4)}`, 'X-Short': '****' } });
    const rotated = await expectStatus(call('POST', `${base}/${created.id}/rotate-secret`, { key: tenant.apiKey, body: { grace_period: '0s' } }), 200);
    const after = await call('GET', `${base}/${created.id}`, { key: tenant.apiKey });
    expect(JSON.stringify(after.body)).not.toContain(rotated.secret);
    expect(JSON.stringify(after.body)).not.toContain(rotated.secret.slice(6, 26));
  });

  it('never echoes a secret or header value in a 4xx', async () => {
    const target = await receivers.start();
    const base = `/v1/tenants/${tenant.id}/endpoints`;
    const endpoint = await createEndpoint(call, tenant, { url: target.url });
    const bad = [
      // Header values with a line break (header injection), too long, or not a string.
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, headers: { Authorization: `${headerValue}\r\nX-Injected: 1` } } }),
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, headers: { Authorization: headerValue.repeat(200) } } }),
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, headers: { Authorization: [headerValue] } } }),
      // A header Herald writes itself, a bad header name, too many headers.
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, headers: { 'Webhook-Signature': headerValue } } }),
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, headers: { 'Bad Name': headerValue } } }),
      call('PATCH', `${base}/${endpoint.id}`, { key: tenant.apiKey, body: { headers: Object.fromEntries(Array.from({ length: 51 }, (_, n) => [`X-${n}`, headerValue])) } }),
      // Secrets: too short, too long, not a string, sent to PATCH, with a bad key, or in broken JSON.
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, secret: 'whsec_x' } }),
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, secret: secret.repeat(10) } }),
      call('POST', base, { key: tenant.apiKey, body: { url: target.url, secret: { value: secret } } }),
      call('PATCH', `${base}/${endpoint.id}`, { key: tenant.apiKey, body: { secret } }),
      call('POST', `${base}/${endpoint.id}/rotate-secret`, { key: tenant.apiKey, body: { secret, grace_period: 'forever' } }),
      call('POST', base, { key: tenant.apiKey, rawBody: `{"url": "${target.url}", "secret": "${secret}", "headers": {"Authorization": "${headerValue}"` }),
      call('POST', base, { key: headerValue, body: { url: target.url, secret } }),
      call('POST', base, { key: tenant.apiKey, body: { url: `https://user:${otherHeaderValue}@example.com/hook`, secret } }),
    ];
    for (const [index, answer] of (await Promise.all(bad)).entries()) {
      expect(answer.status, `request ${index}`).toBeGreaterThanOrEqual(400);
      expect(answer.status, `request ${index}`).toBeLessThan(500);
      expect(answer.body.error.code, `request ${index}`).toEqual(expect.any(String));
      expect(leaks(JSON.stringify(answer.body)), `request ${index}: ${JSON.stringify(answer.body)}`).toEqual([]);
    }
  });
});
