import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalPostgres, type LocalPostgres } from '../src/stack/postgres.js';
import { ensureTemporalCli, startTemporalDevServer, type TemporalDevServer } from '../src/stack/temporal.js';
import { bundleHeraldWorkflows } from '../src/worker/worker.js';
import { buildPortal } from '../portal/build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseAdminUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCli: string;
  }
}

/** One real PostgreSQL and one real Temporal dev server for the whole run; tests isolate by database and task queue. */
export default async function setup(project: TestProject) {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'herald-test-'));
  await chmod(folder, 0o755);
  let postgres: LocalPostgres | undefined;
  let temporal: TemporalDevServer | undefined;
  const started = Date.now();
  // The portal's pages, which the API serves from dist/portal (HERALD_PORTAL_DIR's default).
  await buildPortal();
  const cli = await ensureTemporalCli((line) => console.log(line));
  const adminUrl = process.env.DATABASE_URL ?? (postgres = await startLocalPostgres({ dataDir: path.join(folder, 'pg') })).url('postgres');
  temporal = await startTemporalDevServer({ cli, headless: true, quiet: true, logLevel: 'error' });
  const bundle = await bundleHeraldWorkflows();
  const bundlePath = path.join(folder, 'workflow-bundle.js');
  await writeFile(bundlePath, bundle.code);
  console.log(`test stack up in ${Date.now() - started} ms: postgres ${adminUrl}, temporal ${temporal.address}`);

  project.provide('databaseAdminUrl', adminUrl);
  project.provide('temporalAddress', temporal.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCli', cli);

  return async () => {
    await temporal?.stop();
    await postgres?.stop('immediate');
    await rm(folder, { recursive: true, force: true });
  };
}
