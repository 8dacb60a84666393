import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { execFileAsync, freePort, spawnLogged, stopChild, waitFor } from './process.js';
import { heraldSearchAttributes } from '../../workflows/contracts.js';

/** The Temporal CLI release Herald builds when none is installed; `go install` works as is for 1.5.x. */
export const pinnedTemporalCliVersion = 'v1.5.1';

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const toolsDirectory = path.join(repositoryRoot, '.herald', 'bin');

async function commandVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(binary, ['--version']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/**
 * Returns a path to a `temporal` CLI: $TEMPORAL_CLI, then `temporal` on PATH, then the cached
 * build under .herald/bin, else builds the pinned release with Go (minutes, once).
 */
export async function ensureTemporalCli(log: (line: string) => void = console.log): Promise<string> {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  if (await commandVersion('temporal')) return 'temporal';
  const cached = path.join(toolsDirectory, 'temporal');
  // `go install` builds report version 0.0.0-DEV, so the pinned version is kept in a stamp file.
  const stamp = path.join(toolsDirectory, 'temporal.version');
  if (existsSync(cached) && existsSync(stamp) && (await readFile(stamp, 'utf8')).trim() === pinnedTemporalCliVersion) return cached;

  const hasGo = await execFileAsync('go', ['version']).then(() => true, () => false);
  if (!hasGo) {
    throw new Error(
      'The Temporal CLI is missing and Go is not installed to build it. Install one of:\n' +
        '  - the Temporal CLI: https://docs.temporal.io/cli#install (put `temporal` on PATH), or\n' +
        '  - Go 1.23+ (https://go.dev/dl/), and Herald builds the CLI itself on first start.',
    );
  }
  log(`Building the Temporal CLI ${pinnedTemporalCliVersion} with Go into ${toolsDirectory} (first run only; a few minutes)…`);
  await mkdir(toolsDirectory, { recursive: true });
  // Built into a private folder and renamed, so concurrent builders never see a half-written binary.
  const staging = await mkdtemp(path.join(toolsDirectory, '.build-'));
  try {
    await execFileAsync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${pinnedTemporalCliVersion}`], {
      env: { ...process.env, CGO_ENABLED: '0', GOBIN: staging, GOFLAGS: '-mod=mod' },
      maxBuffer: 64 * 1024 * 1024,
    });
    await rename(path.join(staging, 'temporal'), cached);
    await writeFile(stamp, `${pinnedTemporalCliVersion}\n`);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`Building the Temporal CLI failed: go install github.com/temporalio/cli/cmd/temporal@${pinnedTemporalCliVersion}\n${stderr || (error as Error).message}`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  log(`Temporal CLI ready: ${cached}`);
  return cached;
}

export interface TemporalDevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  stop: () => Promise<void>;
  kill: () => void;
  pid: number | undefined;
}

export interface TemporalDevServerOptions {
  cli: string;
  /** SQLite file; omitted = in memory. */
  dbFile?: string;
  port?: number;
  uiPort?: number;
  headless?: boolean;
  namespace?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  quiet?: boolean;
}

export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const port = options.port || (await freePort());
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace];
  args.push('--log-level', options.logLevel ?? 'error');
  if (options.dbFile) {
    await mkdir(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
    // WAL without fsync per commit: survives a killed server (the chaos test does that), not a power cut.
    // HERALD_DEV_TEMPORAL_SQLITE_PRAGMAS replaces them (comma-separated; empty for SQLite's defaults).
    const pragmas = process.env.HERALD_DEV_TEMPORAL_SQLITE_PRAGMAS ?? 'journal_mode=WAL,synchronous=NORMAL';
    for (const pragma of pragmas.split(',').filter(Boolean)) args.push('--sqlite-pragma', pragma.trim());
  }
  let uiUrl: string | undefined;
  if (options.headless) {
    args.push('--headless');
  } else {
    const uiPort = options.uiPort || (await freePort());
    args.push('--ui-ip', '127.0.0.1', '--ui-port', String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  }
  for (const key of heraldSearchAttributes) args.push('--search-attribute', `${key.name}=Keyword`);
  // HERALD_DEV_TEMPORAL_DYNAMIC_CONFIG (JSON object) adds or overrides settings, e.g. for benchmark comparisons.
  const overrides = JSON.parse(process.env.HERALD_DEV_TEMPORAL_DYNAMIC_CONFIG || '{}') as Record<string, unknown>;
  for (const [name, value] of Object.entries({ ...devServerDynamicConfig, ...overrides })) args.push('--dynamic-config-value', `${name}=${JSON.stringify(value)}`);

  const child = spawnLogged(options.cli, args, { label: 'temporal', quiet: options.quiet });
  const address = `127.0.0.1:${port}`;
  await waitFor(
    'Temporal dev server',
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
      } finally {
        await connection.close();
      }
    },
    120_000,
    child,
  );
  return { address, namespace, uiUrl, stop: () => stopChild(child), kill: () => child.kill('SIGKILL'), pid: child.pid };
}

/**
 * Dev-server tuning that a production cluster sets in its own dynamic config: with eager activity
 * execution the worker that completes a workflow task gets the activity back in the same round trip.
 */
export const devServerDynamicConfig: Record<string, unknown> = {
  'system.enableActivityEagerExecution': true,
  // Workflows the worker starts itself (fan-out batches) get their first task in the start response.
  'system.enableEagerWorkflowStart': true,
};

