import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../src/config.js';
import { createTestDatabase, heraldProcessEnv, testConfig } from './helpers/stack.js';
import { repositoryRoot } from './helpers/run-node.js';

/**
 * `npm run start:api` and `npm run start:worker` as production runs them: from what `npm run build` wrote into dist/,
 * in a copy of what the Dockerfile copies (package.json, the tsconfigs, src, workflows, activities, portal; node_modules
 * linked), so the repository's own dist/ is neither needed nor touched. Both run against this run's PostgreSQL and
 * Temporal: the API answers /healthz and /readyz, and the worker runs a ping workflow on its task queue.
 */

const run = promisify(execFile);
const scripts = JSON.parse(readFileSync(path.join(repositoryRoot, 'package.json'), 'utf8')).scripts as Record<string, string>;

let project: string;
const children: ChildProcess[] = [];

/** `npm run <script>` in the built copy, in a process group of its own (npm does not pass signals on to the script). */
function npmRun(script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn('npm', ['run', '--silent', script], { cwd: project, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/** The first pino record of `child` whose msg is `message`, or a rejection with its output when it exits first. */
function logRecord(child: ChildProcess, message: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${message}" within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (record.msg === message) {
          clearTimeout(timer);
          resolve(record);
        }
      } catch {}
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before "${message}":\n${output}`));
    });
  });
}

/** SIGTERM to the script's process group; resolves once the group is gone. */
async function stopGroup(child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(-child.pid!, 'SIGTERM');
  for (const started = Date.now(); alive(); ) {
    if (Date.now() - started > timeoutMs) throw new Error(`${child.spawnargs.join(' ')} still running ${timeoutMs} ms after SIGTERM`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  project = await mkdtemp(path.join(os.tmpdir(), 'herald-build-'));
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'workflows', 'activities', 'portal']) {
    await cp(path.join(repositoryRoot, entry), path.join(project, entry), { recursive: true });
  }
  await symlink(path.join(repositoryRoot, 'node_modules'), path.join(project, 'node_modules'));
  await run('npm', ['run', '--silent', 'build'], { cwd: project, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
}, 300_000);

afterAll(async () => {
  for (const child of children) await stopGroup(child).catch(() => child.pid && process.kill(-child.pid, 'SIGKILL'));
  if (project) await rm(project, { recursive: true, force: true });
});

describe('npm start scripts, from npm run build', () => {
  it('run the entry points and the workflow bundle the build wrote', () => {
    for (const name of ['start:api', 'start:worker']) {
      const target = /^node (dist\/\S+\.js)$/.exec(scripts[name] ?? '');
      expect(target, `${name}: ${scripts[name]}`).not.toBeNull();
      expect(existsSync(path.join(project, target![1]!)), target![1]).toBe(true);
    }
    // The compiled worker loads it instead of bundling at start.
    expect(existsSync(path.join(project, 'dist', 'workflow-bundle.js'))).toBe(true);
  });

  it.each(['start:api', 'start:worker'])('%s stops at a missing setting, naming it (exit 78)', async (name) => {
    const child = npmRun(name, { PATH: process.env.PATH, HOME: process.env.HOME });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toContain('DATABASE_URL: is required');
    expect(code).toBe(78);
  });

  it('start:api answers /healthz and /readyz, and start:worker runs workflows on its task queue, against the test stack', async () => {
    const database = await createTestDatabase();
    const config: Config = testConfig({ DATABASE_URL: database.url, HERALD_API_PORT: '0' });
    const env = heraldProcessEnv(config, { HERALD_LOG_LEVEL: 'info' });
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const api = npmRun('start:api', env);
      const worker = npmRun('start:worker', env);
      const listening = await logRecord(api, 'API listening');
      const url = String(listening.url);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready' });

      expect(await logRecord(worker, 'worker started')).toMatchObject({ taskQueue: config.TEMPORAL_TASK_QUEUE });
      const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
      const pong = await temporal.workflow.execute('pingWorkflow', { taskQueue: config.TEMPORAL_TASK_QUEUE, workflowId: `start-script-ping-${Date.now()}`, args: [], workflowExecutionTimeout: '30s' });
      expect(pong).toBe('pong');

      await Promise.all([stopGroup(api), stopGroup(worker)]);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      await connection.close();
      await database.drop();
    }
  }, 120_000);
});
