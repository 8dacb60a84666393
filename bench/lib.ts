import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { loadConfig } from '../src/config.js';
import { connectDatabase, type Sql } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { startLocalPostgres, type LocalPostgres } from '../src/stack/postgres.js';
import { freePort, stopChild, waitFor } from '../src/stack/process.js';
import { ensureTemporalCli, repositoryRoot, startTemporalDevServer, type TemporalDevServer } from '../src/stack/temporal.js';
import { spawnHeraldProcess } from '../src/cli/dev.js';
import { builtInProfiles, verifySignature } from '../src/core/signing.js';

/**
 * One process of the stack that can be crashed (kill -9; PostgreSQL: `pg_ctl stop -m immediate`) and
 * started again with the same settings: same port, same data directory or SQLite file, same environment.
 */
export interface StackProcess {
  readonly name: string;
  /** The process and, for PostgreSQL, its backends; empty while it is down. */
  pids: () => number[];
  crash: () => Promise<void>;
  /** Starts it again and resolves once it answers (the worker: once it is spawned). */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
  /** Exits nobody asked for; with `supervise` they are restarted, as a process supervisor would. */
  unexpectedExits: () => number;
}

/** The whole stack as separate processes, so the CPU each one burns can be read from /proc. */
export interface BenchStack {
  apiUrl: string;
  temporalAddress: string;
  /** The worker's task queue (the config default). */
  taskQueue: string;
  adminKey: string;
  sql: Sql;
  encryptionKey: string;
  temporalDb: string;
  databaseName: string;
  processes: () => Record<string, number[]>;
  postgres: StackProcess;
  temporal: StackProcess;
  worker: StackProcess;
  api: StackProcess;
  stop: () => Promise<void>;
}

export interface BenchStackOptions {
  workerEnv?: Record<string, string>;
  /** Where the PostgreSQL cluster and the Temporal SQLite file live (default .herald/bench). */
  home?: string;
  /** Drop the worker's and API's output instead of forwarding it. */
  quiet?: boolean;
  /** Restart the worker and the API when they exit on their own. */
  supervise?: boolean;
}

export async function startBenchStack(options: BenchStackOptions = {}): Promise<BenchStack> {
  const home = options.home ?? path.join(repositoryRoot, '.herald', 'bench');
  await mkdir(home, { recursive: true });
  const cli = await ensureTemporalCli();
  let postgres: LocalPostgres = await startLocalPostgres({ dataDir: path.join(home, 'pg'), database: 'postgres' });
  const database = `bench_${Date.now()}`;
  const admin = connectDatabase(postgres.url('postgres'), { max: 1 });
  await admin.unsafe(`create database ${database}`);
  await admin.end();
  const databaseUrl = postgres.url(database);
  const sql = connectDatabase(databaseUrl, { max: 10 });
  await migrate(sql);
  const temporalDb = path.join(home, `temporal-${Date.now()}.db`);
  const startTemporal = (port?: number) => startTemporalDevServer({ cli, headless: true, quiet: true, dbFile: temporalDb, port });
  let temporal: TemporalDevServer = await startTemporal();
  const temporalPort = Number(temporal.address.split(':').pop());
  const apiPort = await freePort();
  const adminKey = `sk_admin_${randomBytes(18).toString('base64url')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HERALD_ADMIN_KEY: adminKey,
    HERALD_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    HERALD_ALLOW_HTTP: 'true',
    HERALD_DEV_MODE: 'true',
    HERALD_LOG_LEVEL: 'warn',
    HERALD_API_PORT: String(apiPort),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '20',
    TEMPORAL_ADDRESS: temporal.address,
    // e.g. `--cpu-prof --cpu-prof-dir=bench/out/profiles` to profile the worker and the API.
    ...(process.env.HERALD_BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HERALD_BENCH_NODE_OPTIONS } : {}),
    // Worker settings to compare (`bench:compare --candidate-env HERALD_WORKER_MAX_CACHED_WORKFLOWS=100`).
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('HERALD_WORKER_') || name === 'MALLOC_ARENA_MAX')),
    ...options.workerEnv,
  };
  const config = loadConfig(env);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const apiReady = () =>
    waitFor('Herald API', async () => {
      const response = await fetch(`${apiUrl}/readyz`);
      if (!response.ok) throw new Error(String(response.status));
    }, 120_000);
  // HERALD_BENCH_WORKER=dist runs the compiled worker (`npm run build` first), as production does.
  const workerEntry = process.env.HERALD_BENCH_WORKER === 'dist' ? 'dist/src/worker/main.js' : 'src/worker/main.ts';
  const worker = heraldProcess('worker', workerEntry, env, options, async () => {});
  const api = heraldProcess('api', 'src/api/main.ts', env, options, apiReady);
  await apiReady();
  // The worker bundles its workflows at start; give it the time before measuring.
  await waitFor('Herald worker', async () => {
    const rows = await sql`select 1`;
    if (!rows.length) throw new Error('db');
  }, 10_000);
  const postmasterPid = () => {
    try {
      return Number(readFileSync(path.join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };
  const postgresProcess: StackProcess = {
    name: 'postgres',
    pids: () => {
      const pid = postmasterPid();
      return pid ? [pid, ...childrenOf(pid)] : [];
    },
    crash: () => postgres.stop('immediate'),
    restart: async () => {
      postgres = await startLocalPostgres({ dataDir: postgres.dataDir, port: postgres.port });
    },
    stop: () => postgres.stop(),
    unexpectedExits: () => 0,
  };
  const temporalProcess: StackProcess = {
    name: 'temporal',
    pids: () => (temporal.pid && isAlive(temporal.pid) ? [temporal.pid] : []),
    crash: async () => {
      const pid = temporal.pid;
      temporal.kill();
      while (pid && isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    restart: async () => {
      temporal = await startTemporal(temporalPort);
    },
    stop: () => temporal.stop(),
    unexpectedExits: () => 0,
  };
  return {
    apiUrl,
    temporalAddress: temporal.address,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    adminKey,
    sql,
    encryptionKey: env.HERALD_ENCRYPTION_KEY!,
    temporalDb,
    databaseName: database,
    processes: () => ({
      temporal: temporalProcess.pids(),
      worker: worker.pids(),
      api: api.pids(),
      postgres: postgresProcess.pids(),
    }),
    postgres: postgresProcess,
    temporal: temporalProcess,
    worker,
    api,
    stop: async () => {
      await Promise.all([api.stop(), worker.stop()]);
      await temporal.stop();
      await sql.end();
      const cleanup = connectDatabase(postgres.url('postgres'), { max: 1 });
      await cleanup.unsafe(`drop database if exists ${database} with (force)`);
      await cleanup.end();
      await postgres.stop();
      await rm(temporalDb, { force: true });
      await rm(`${temporalDb}-wal`, { force: true });
      await rm(`${temporalDb}-shm`, { force: true });
    },
  };
}

/** A Herald entry point as a child process that can be killed and spawned again with the same environment. */
function heraldProcess(name: string, entry: string, env: NodeJS.ProcessEnv, options: BenchStackOptions, ready: () => Promise<void>): StackProcess {
  let child: ChildProcess;
  let wanted = true;
  let unexpected = 0;
  const spawnChild = () => {
    child = spawnHeraldProcess(entry, env, name, options.quiet ?? false);
    const mine = child;
    mine.once('exit', () => {
      if (!wanted || mine !== child) return;
      unexpected++;
      if (options.supervise) setTimeout(() => wanted && mine === child && spawnChild(), 1000);
    });
  };
  spawnChild();
  return {
    name,
    pids: () => (child.exitCode === null && child.signalCode === null && child.pid ? [child.pid] : []),
    crash: async () => {
      wanted = false;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    },
    restart: async () => {
      wanted = true;
      spawnChild();
      await ready();
    },
    stop: async () => {
      wanted = false;
      await stopChild(child);
    },
    unexpectedExits: () => unexpected,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) children.push(Number(entry));
    } catch {}
  }
  return children;
}

/** CPU seconds (user + system) used so far by each group of processes. */
export function cpuSeconds(groups: Record<string, number[]>): Record<string, number> {
  const ticksPerSecond = 100;
  const result: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) {
    let ticks = 0;
    for (const pid of pids) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {}
    }
    result[name] = ticks / ticksPerSecond;
  }
  result.bench = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  return result;
}

export interface Receipt {
  deliveryId: string;
  eventId: string;
  receivedAt: number;
  verified: boolean;
}

/**
 * A loopback receiver that verifies every signature (standard-webhooks) and records receipt times.
 * Paths starting /fail answer 500; everything else 200.
 */
export async function startBenchReceiver(secret: string) {
  const receipts: Receipt[] = [];
  let failuresAnswered = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const receivedAt = performance.timeOrigin + performance.now();
      if (request.url?.startsWith('/fail')) {
        failuresAnswered++;
        response.writeHead(500).end();
        return;
      }
      const body = Buffer.concat(chunks);
      let verified = false;
      let envelope: { delivery_id?: string; event_id?: string } = {};
      let messageId: string | undefined;
      try {
        ({ messageId } = verifySignature({ profile: builtInProfiles['standard-webhooks'], secrets: [secret], headers: request.headers, body }));
        verified = true;
        envelope = JSON.parse(body.toString('utf8'));
      } catch {}
      receipts.push({ deliveryId: envelope.delivery_id ?? String(messageId), eventId: envelope.event_id ?? '', receivedAt, verified });
      response.writeHead(200).end('ok');
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    url: (pathName: string) => `http://127.0.0.1:${port}${pathName}`,
    receipts,
    failuresAnswered: () => failuresAnswered,
    close,
  };
}

/** Serves a receiver on a free loopback port with long keep-alive, as webhook senders' pools expect. */
export async function listenOnLoopback(server: Server): Promise<{ port: number; close: () => Promise<void> }> {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** JSON calls to the API over a keep-alive pool. */
export function apiCaller(apiUrl: string, connections: number) {
  const pool = new Pool(apiUrl, { connections, pipelining: 1 });
  return {
    call: async <T = any>(method: 'GET' | 'POST', pathName: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
      const response = await pool.request({
        method,
        path: pathName,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
    },
    close: () => pool.close(),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `task` for every index with at most `concurrency` in flight. */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  }));
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
