/**
 * The chaos run behind `npm run chaos` and test/chaos.test.ts: the whole stack as separate processes,
 * local receivers (some flaky), events published with Idempotency-Keys and retries, while the worker,
 * the API and the Temporal dev server are killed with SIGKILL and PostgreSQL is stopped with
 * `pg_ctl -m immediate`, each restarted on the same port and data. Then every accepted event is checked.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { generateSigningSecret } from '../src/core/crypto.js';
import { builtInProfiles, verifySignature } from '../src/core/signing.js';
import { listenOnLoopback, runPool, startBenchStack, type BenchStack, type StackProcess } from './lib.js';

export interface ChaosOptions {
  /** Deliveries to create: events × endpoints (rounded up to whole events). */
  deliveries: number;
  endpoints: number;
  /** Share of endpoints that answer 500s, time out and trickle their bodies at random. */
  flakyShare: number;
  /** Pause between two faults, and how long Temporal and PostgreSQL stay down. */
  gapMs: number;
  downMs: number;
  /** How long the deliveries may take to settle after the last fault. */
  settleTimeoutMs: number;
  publishConcurrency: number;
  /** Where PostgreSQL's cluster and Temporal's SQLite file live. */
  home?: string;
  quiet?: boolean;
  log?: (line: string) => void;
}

export interface ChaosReport {
  events_published: number;
  accepted: number;
  deliveries_expected: number;
  delivered: number;
  failed: number;
  /** Receipts beyond the first of a delivery (at-least-once: a crash between POST and record repeats it). */
  duplicates: number;
  /** Accepted deliveries missing, unfinished, delivered without a 2xx receipt, or failed before their schedule ran out. */
  lost: number;
  lost_examples: string[];
  failed_early: number;
  stuck: number;
  unverified_receipts: number;
  /** Receipts of one (event, endpoint) pair under more than one delivery id. */
  duplicate_delivery_ids: number;
  /** Events stored twice for one Idempotency-Key. */
  duplicate_events: number;
  api: { answers_503: number; answers_503_during_outage: number; other_5xx: number; hangs: number; connection_errors: number; publish_retries: number };
  unexpected_exits: Record<string, number>;
  faults: { fault: string; at_s: number; down_s: number }[];
  receipts: number;
  seconds: { setup: number; chaos: number; settle: number; total: number };
}

const eventType = 'v1.chaos.tick';
const clientTimeoutMs = 15_000;
const retrySchedule = ['1s', '2s', '4s', '8s'];
const flakyTimeout = '3s';

interface Receipt {
  endpoint: number;
  deliveryId: string;
  eventId: string;
  verified: boolean;
  /** What the receiver did: a status, or hung until the sender gave up. */
  answer: number | 'hung';
}

/** One loopback server for every endpoint: /e/<n>. Flaky endpoints answer 500 (25 %), hang (10 %), or trickle a 200 over ~1 s (15 %). */
async function startChaosReceivers(secrets: string[], flaky: Set<number>) {
  const receipts: Receipt[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const endpoint = Number(/^\/e\/(\d+)/.exec(request.url ?? '')?.[1] ?? -1);
      const body = Buffer.concat(chunks);
      let verified = false;
      let envelope: { delivery_id?: string; event_id?: string } = {};
      let messageId: string | undefined;
      try {
        ({ messageId } = verifySignature({ profile: builtInProfiles['standard-webhooks'], secrets: [secrets[endpoint] ?? ''], headers: request.headers, body }));
        envelope = JSON.parse(body.toString('utf8'));
        verified = envelope.delivery_id === messageId;
      } catch {}
      const receipt: Receipt = { endpoint, deliveryId: String(messageId ?? envelope.delivery_id), eventId: envelope.event_id ?? '', verified, answer: 200 };
      receipts.push(receipt);
      const roll = flaky.has(endpoint) ? Math.random() : 1;
      if (roll < 0.25) {
        receipt.answer = 500;
        response.writeHead(500).end('flaky');
      } else if (roll < 0.35) {
        receipt.answer = 'hung';
        // Never answered: the attempt ends at the endpoint's timeout and the sender closes the socket.
      } else if (roll < 0.5) {
        response.writeHead(200, { 'content-type': 'text/plain' });
        let sent = 0;
        const timer = setInterval(() => {
          if (response.destroyed || ++sent > 5) {
            clearInterval(timer);
            response.end();
            return;
          }
          response.write('slow ');
        }, 200);
      } else {
        response.writeHead(200).end('ok');
      }
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    url: (endpoint: number) => `http://127.0.0.1:${port}/e/${endpoint}`,
    receipts,
    close,
  };
}

interface ApiTally {
  answers_503: number;
  answers_503_during_outage: number;
  other_5xx: number;
  hangs: number;
  connection_errors: number;
  publish_retries: number;
  other_5xx_examples: string[];
}

/** JSON over fetch with a bounded timeout: every answer is tallied, a timeout counts as a hang. */
function chaosClient(stack: BenchStack, tally: ApiTally, outage: () => boolean) {
  return async (method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any } | undefined> => {
    try {
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(clientTimeoutMs),
      });
      const text = await response.text();
      if (response.status === 503) {
        tally.answers_503++;
        if (outage()) tally.answers_503_during_outage++;
      } else if (response.status >= 500) {
        tally.other_5xx++;
        if (tally.other_5xx_examples.length < 5) tally.other_5xx_examples.push(`${method} ${path} ${response.status} ${text.slice(0, 300)}`);
      }
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {}
      return { status: response.status, body: parsed };
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') tally.hangs++;
      else tally.connection_errors++;
      return undefined;
    }
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const secrets = Array.from({ length: options.endpoints }, () => generateSigningSecret());
  const flakyCount = Math.round(options.endpoints * options.flakyShare);
  const flaky = new Set(Array.from({ length: flakyCount }, (_, index) => index * Math.floor(options.endpoints / Math.max(1, flakyCount))));
  const receivers = await startChaosReceivers(secrets, flaky);
  const tally: ApiTally = { answers_503: 0, answers_503_during_outage: 0, other_5xx: 0, hangs: 0, connection_errors: 0, publish_retries: 0, other_5xx_examples: [] };
  let outage = false;
  const faults: ChaosReport['faults'] = [];
  let stack: BenchStack | undefined;
  try {
    stack = await startBenchStack({ home: options.home, quiet: options.quiet, supervise: true });
    const sql = stack.sql;
    const call = chaosClient(stack, tally, () => outage);
    const must = async (method: string, path: string, key: string, body: unknown, status: number) => {
      const answer = await call(method, path, key, body);
      if (answer?.status !== status) throw new Error(`${method} ${path}: ${answer?.status} ${JSON.stringify(answer?.body)}`);
      return answer.body;
    };

    await must('POST', '/v1/event-types', stack.adminKey, { name: eventType, description: 'Chaos tick', schema: { type: 'object' } }, 201);
    const tenant = await must('POST', '/v1/tenants', stack.adminKey, { name: 'chaos', max_endpoints: options.endpoints }, 201);
    const tenantKey: string = tenant.api_key;
    await runPool(options.endpoints, 8, async (index) => {
      await must('POST', `/v1/tenants/${tenant.id}/endpoints`, tenantKey, {
        url: receivers.url(index),
        event_types: [eventType],
        secret: secrets[index],
        retry_schedule: retrySchedule,
        timeout: flaky.has(index) ? flakyTimeout : '10s',
        disable_after_failures: 1000,
      }, 201);
    });
    const setupSeconds = (Date.now() - started) / 1000;
    log(`stack up in ${setupSeconds.toFixed(1)} s: ${options.endpoints} endpoints (${flaky.size} flaky)`);

    const eventCount = Math.ceil(options.deliveries / options.endpoints);
    const runId = randomBytes(4).toString('hex');
    const accepted = new Map<number, string>();
    let published = 0;

    /** One event, retried (same Idempotency-Key) until a 2xx, a 4xx, or the give-up deadline. */
    const publishOne = async (index: number) => {
      const deadline = Date.now() + options.settleTimeoutMs;
      for (let tries = 0; Date.now() < deadline; tries++) {
        if (tries > 0) {
          tally.publish_retries++;
          await sleep(Math.min(2000, 200 * tries));
        }
        const answer = await call('POST', `/v1/tenants/${tenant.id}/events`, tenantKey, { event_type: eventType, data: { n: index, run: runId } }, { 'idempotency-key': `chaos-${runId}-${index}` });
        if (!answer || answer.status >= 500 || answer.status === 429) continue;
        if (answer.status === 202) accepted.set(index, answer.body.event_id);
        else log(`publish ${index}: ${answer.status} ${JSON.stringify(answer.body)}`);
        return;
      }
    };

    const chaosStarted = Date.now();
    const completed = async () => {
      const [row] = await sql<{ done: number }[]>`select count(*)::int as done from deliveries where tenant_id = ${tenant.id} and status in ('delivered', 'failed')`;
      return row!.done;
    };
    /** After a restart: wait until deliveries complete again (or nothing is left to complete). */
    const waitForProgress = async (what: string) => {
      const deadline = Date.now() + 120_000;
      let before: number | undefined;
      while (Date.now() < deadline) {
        try {
          const done = await completed();
          const [row] = await sql<{ open: number }[]>`select count(*)::int as open from deliveries where tenant_id = ${tenant.id} and status not in ('delivered', 'failed')`;
          if (before === undefined) before = done;
          else if (done > before || (row!.open === 0 && published >= eventCount)) return;
        } catch {}
        await sleep(500);
      }
      log(`  no progress within 120 s after ${what}`);
    };
    const fault = async (name: string, target: StackProcess, downMs: number, dependency: boolean) => {
      const at = (Date.now() - chaosStarted) / 1000;
      const down = Date.now();
      await target.crash();
      outage = dependency;
      await sleep(downMs);
      await target.restart();
      outage = false;
      faults.push({ fault: name, at_s: Math.round(at * 10) / 10, down_s: Math.round((Date.now() - down) / 100) / 10 });
      log(`  ${name} at ${at.toFixed(1)} s, down ${((Date.now() - down) / 1000).toFixed(1)} s`);
      await waitForProgress(name);
    };

    // Clients publish throughout: half the events before the API is killed, half while it is killed and restarted.
    const firstHalf = Math.ceil(eventCount / 2);
    const publishPaced = (from: number, count: number, windowMs: number) => {
      const startedAt = Date.now();
      return runPool(count, options.publishConcurrency, async (offset) => {
        const due = startedAt + (offset * windowMs) / count;
        if (due > Date.now()) await sleep(due - Date.now());
        await publishOne(from + offset);
        published++;
      });
    };
    const publishing = [publishPaced(0, firstHalf, 2 * options.gapMs)];
    // A prober reads during outages too: a dependency down must be a 503, never a 500 or a hang.
    let probing = true;
    const probe = (async () => {
      while (probing) {
        await call('GET', `/v1/tenants/${tenant.id}/deliveries?limit=5`, tenantKey);
        await sleep(250);
      }
    })();

    await sleep(options.gapMs);
    await fault('kill -9 worker', stack.worker, 1000, false);
    await sleep(options.gapMs);
    publishing.push(publishPaced(firstHalf, eventCount - firstHalf, 2 * options.gapMs));
    await sleep(Math.min(1000, options.gapMs / 4));
    await fault('kill -9 API (while publishing)', stack.api, 1000, false);
    await sleep(options.gapMs);
    await fault('kill -9 Temporal dev server', stack.temporal, options.downMs, true);
    await sleep(options.gapMs);
    await fault('pg_ctl stop -m immediate', stack.postgres, options.downMs, true);
    await Promise.all(publishing);
    const chaosSeconds = (Date.now() - chaosStarted) / 1000;
    log(`faults done in ${chaosSeconds.toFixed(1)} s; ${accepted.size}/${eventCount} events accepted; settling`);

    const settleStarted = Date.now();
    let lastLog = 0;
    for (;;) {
      try {
        const [row] = await sql<{ open: number; undispatched: number; done: number }[]>`
          select count(*) filter (where status not in ('delivered', 'failed'))::int as open,
                 count(*) filter (where dispatched_at is null and status not in ('delivered', 'failed'))::int as undispatched,
                 count(*) filter (where status in ('delivered', 'failed'))::int as done
          from deliveries where tenant_id = ${tenant.id} and event_type = ${eventType}`;
        if (row!.open === 0) break;
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          log(`  settling: ${row!.done} done, ${row!.open} open (${row!.undispatched} undispatched)`);
        }
      } catch {}
      if (Date.now() - settleStarted > options.settleTimeoutMs) {
        log(`  not settled within ${options.settleTimeoutMs / 1000} s`);
        break;
      }
      await sleep(1000);
    }
    // Let late receipts of attempts that were recorded just now arrive.
    await sleep(500);
    probing = false;
    await probe;
    const settleSeconds = (Date.now() - settleStarted) / 1000;

    const report = await verify(sql, tenant.id, [...accepted.values()], options.endpoints, receivers.receipts);
    if (tally.other_5xx_examples.length) log(`other 5xx: ${tally.other_5xx_examples.join('\n  ')}`);
    const { other_5xx_examples: _examples, ...api } = tally;
    return {
      ...report,
      events_published: eventCount,
      accepted: accepted.size,
      api,
      unexpected_exits: Object.fromEntries([stack.worker, stack.api].map((process) => [process.name, process.unexpectedExits()])),
      faults,
      seconds: { setup: Math.round(setupSeconds), chaos: Math.round(chaosSeconds), settle: Math.round(settleSeconds), total: Math.round((Date.now() - started) / 1000) },
    };
  } finally {
    await stack?.stop().catch((error) => log(`stopping the stack: ${(error as Error).message}`));
    await receivers.close();
  }
}

type Verified = Omit<ChaosReport, 'events_published' | 'accepted' | 'api' | 'unexpected_exits' | 'faults' | 'seconds'>;

async function verify(sql: BenchStack['sql'], tenantId: string, acceptedEventIds: string[], endpointCount: number, receipts: Receipt[]): Promise<Verified> {
  const deliveries = await sql<{ id: string; event_id: string; status: string; failure_reason: string | null; max_attempts: number; recorded: number }[]>`
    select d.id, d.event_id, d.status, d.failure_reason, d.max_attempts,
           (select count(*)::int from attempts a where a.delivery_id = d.id and a.kind = 'delivery') as recorded
    from deliveries d where d.tenant_id = ${tenantId} and d.event_type = ${eventType}`;
  const [events] = await sql<{ stored: number; keys: number }[]>`
    select (select count(*)::int from events where tenant_id = ${tenantId} and event_type = ${eventType}) as stored,
           (select count(*)::int from idempotency_keys where tenant_id = ${tenantId} and key like 'chaos-%') as keys`;
  const byEvent = new Map<string, (typeof deliveries)[number][]>();
  for (const delivery of deliveries) byEvent.set(delivery.event_id, [...(byEvent.get(delivery.event_id) ?? []), delivery]);
  const answered2xx = new Map<string, number>();
  for (const receipt of receipts) if (receipt.answer === 200) answered2xx.set(receipt.deliveryId, (answered2xx.get(receipt.deliveryId) ?? 0) + 1);

  const lost: string[] = [];
  let lostCount = 0;
  const lose = (what: string, count = 1) => {
    lostCount += count;
    lost.push(what);
  };
  let delivered = 0;
  let failed = 0;
  let failedEarly = 0;
  let stuck = 0;
  for (const eventId of acceptedEventIds) {
    const rows = byEvent.get(eventId) ?? [];
    if (rows.length < endpointCount) lose(`${eventId}: ${rows.length} of ${endpointCount} deliveries stored`, endpointCount - rows.length);
    for (const row of rows) {
      if (row.status === 'delivered') {
        delivered++;
        if (!answered2xx.has(row.id)) lose(`${row.id}: delivered, but no 2xx receipt`);
      } else if (row.status === 'failed') {
        failed++;
        if (row.failure_reason !== 'retries_exhausted' || row.recorded < row.max_attempts) {
          failedEarly++;
          lose(`${row.id}: failed (${row.failure_reason}) after ${row.recorded} of ${row.max_attempts} attempts`);
        }
      } else {
        stuck++;
        lose(`${row.id}: stuck in ${row.status}`);
      }
    }
  }

  const idsPerPair = new Map<string, Set<string>>();
  for (const receipt of receipts) {
    const pair = `${receipt.eventId}/${receipt.endpoint}`;
    idsPerPair.set(pair, (idsPerPair.get(pair) ?? new Set()).add(receipt.deliveryId));
  }
  return {
    deliveries_expected: acceptedEventIds.length * endpointCount,
    delivered,
    failed,
    duplicates: [...answered2xx.values()].reduce((sum, count) => sum + count - 1, 0),
    lost: lostCount,
    lost_examples: lost.slice(0, 10),
    failed_early: failedEarly,
    stuck,
    unverified_receipts: receipts.filter((receipt) => !receipt.verified).length,
    duplicate_delivery_ids: [...idsPerPair.values()].filter((ids) => ids.size > 1).length,
    duplicate_events: Math.max(0, events!.stored - events!.keys),
    receipts: receipts.length,
  };
}
