import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { configSchema, loadConfig, parseEnv } from '../config.js';
import { connectDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { startLocalPostgres, type LocalPostgres } from '../stack/postgres.js';
import { preferredPort, spawnLogged, stopChild, waitFor } from '../stack/process.js';
import { ensureTemporalCli, repositoryRoot, startTemporalDevServer, type TemporalDevServer } from '../stack/temporal.js';
import { loadOrCreateDevSecrets, writeDevInfo, type DevInfo } from '../stack/dev-files.js';
import { apiRequester } from './api-client.js';
import type { SmtpCatcher } from '../stack/smtp-catcher.js';

const devSettingsSchema = configSchema.pick({
  HERALD_HOME: true,
  HERALD_API_PORT: true,
  HERALD_DEV_PG_PORT: true,
  HERALD_DEV_TEMPORAL_PORT: true,
  HERALD_DEV_TEMPORAL_UI_PORT: true,
  HERALD_DEV_SMTP_PORT: true,
  HERALD_SMTP_URL: true,
});

/** Runs a TypeScript entry point with tsx, or a compiled one (`dist/…js`) with plain node. */
export function spawnHeraldProcess(entry: string, env: NodeJS.ProcessEnv, label: string, quiet = false): ChildProcess {
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return spawnLogged(process.execPath, [...loader, path.join(repositoryRoot, entry)], { env, label, cwd: repositoryRoot, quiet });
}

/**
 * `herald dev`: PostgreSQL (unless DATABASE_URL is set), the Temporal dev server with its Web UI,
 * the worker and the API, on local ports; Ctrl-C stops them all and keeps the data in .herald/.
 */
export async function runDev(): Promise<void> {
  const settings = parseEnv(devSettingsSchema, process.env);
  const home = path.resolve(settings.HERALD_HOME);
  await mkdir(home, { recursive: true });
  const secrets = await loadOrCreateDevSecrets(home);
  const started: { postgres?: LocalPostgres; temporal?: TemporalDevServer; smtp?: SmtpCatcher; children: ChildProcess[] } = { children: [] };

  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      console.log('\nStopping Herald…');
      await Promise.all(started.children.map((child) => stopChild(child)));
      await started.temporal?.stop();
      await started.postgres?.stop();
      await started.smtp?.close();
      console.log('Stopped. Data kept in', home);
    })());
  process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  try {
    const cli = await ensureTemporalCli();

    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      started.postgres = await startLocalPostgres({ dataDir: path.join(home, 'pg'), port: await preferredPort(settings.HERALD_DEV_PG_PORT), database: 'herald' });
      databaseUrl = started.postgres.url('herald');
      console.log(`PostgreSQL   ${databaseUrl}  (data in ${started.postgres.dataDir})`);
    }
    const sql = connectDatabase(databaseUrl, { max: 1 });
    const applied = await migrate(sql);
    await sql.end();
    if (applied.length) console.log(`Migrations   applied ${applied.join(', ')}`);

    started.temporal = await startTemporalDevServer({
      cli,
      dbFile: path.join(home, 'temporal', 'temporal.db'),
      port: await preferredPort(settings.HERALD_DEV_TEMPORAL_PORT),
      uiPort: await preferredPort(settings.HERALD_DEV_TEMPORAL_UI_PORT),
      logLevel: 'error',
    });
    console.log(`Temporal     ${started.temporal.address}  (state in ${path.join(home, 'temporal')})`);

    // Email channels send to a local catcher that prints what it receives, unless HERALD_SMTP_URL names a real server.
    if (!settings.HERALD_SMTP_URL) {
      // Loaded here only: every other herald command starts without the SMTP server and mail parser.
      const { startSmtpCatcher } = await import('../stack/smtp-catcher.js');
      started.smtp = await startSmtpCatcher({ port: await preferredPort(settings.HERALD_DEV_SMTP_PORT) });
      console.log(`SMTP catcher ${started.smtp.url}  (email channels' messages are printed here)`);
    }

    const apiPort = await preferredPort(settings.HERALD_API_PORT);
    const env: NodeJS.ProcessEnv = {
      HERALD_ADMIN_KEY: secrets.admin_key,
      HERALD_ENCRYPTION_KEY: secrets.encryption_key,
      HERALD_ALLOW_HTTP: 'true',
      HERALD_DEV_MODE: 'true',
      ...process.env,
      HERALD_HOME: home,
      HERALD_API_PORT: String(apiPort),
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: started.temporal.address,
      TEMPORAL_NAMESPACE: started.temporal.namespace,
      ...(started.smtp ? { HERALD_SMTP_URL: started.smtp.url } : {}),
    };
    const config = loadConfig(env);

    // The portal's pages, built once (npm run build:portal rebuilds them).
    if (!existsSync(path.join(config.HERALD_PORTAL_DIR, 'index.html'))) {
      console.log('Portal       building its pages (first start)…');
      const build = spawnHeraldProcess('portal/build.ts', { ...process.env, HERALD_PORTAL_DIR: config.HERALD_PORTAL_DIR }, 'portal build');
      const code = await new Promise<number | null>((resolve) => build.once('exit', resolve));
      if (code !== 0) throw new Error('building the portal failed (see above); try `npm run build:portal`');
    }

    started.children.push(spawnHeraldProcess('src/worker/main.ts', env, 'worker'));
    started.children.push(spawnHeraldProcess('src/api/main.ts', env, 'api'));
    const apiUrl = `http://${config.HERALD_API_HOST}:${apiPort}`;
    await waitFor(
      'Herald API',
      async () => {
        for (const child of started.children) if (child.exitCode !== null) throw Object.assign(new Error('a Herald process exited'), { fatal: true });
        const response = await fetch(`${apiUrl}/readyz`);
        if (!response.ok) throw new Error(`readyz ${response.status}`);
      },
      120_000,
    );

    const devTenant = await ensureDevTenant(apiUrl, config.HERALD_ADMIN_KEY!, home);
    const info: DevInfo = {
      api_url: apiUrl,
      admin_key: config.HERALD_ADMIN_KEY!,
      dev_tenant_id: devTenant.tenant_id,
      dev_api_key: devTenant.api_key,
      temporal_address: started.temporal.address,
      temporal_namespace: started.temporal.namespace,
      web_ui_url: started.temporal.uiUrl ?? null,
      database_url: databaseUrl,
      smtp_url: config.HERALD_SMTP_URL ?? null,
    };
    await writeDevInfo(home, info);
    const portalLink = await apiRequester({ url: apiUrl, key: devTenant.api_key })<{ url: string }>('POST', `/v1/tenants/${devTenant.tenant_id}/portal-sessions`, { expires_in: '1h' });
    printBanner(info, portalLink.url);
    await Promise.race(started.children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
    if (stopping) return;
    console.error('A Herald process exited; stopping the stack.');
    await stopAll();
    process.exit(1);
  } catch (error) {
    console.error((error as Error).message);
    await stopAll();
    process.exit(1);
  }
}

function printBanner(info: DevInfo, portalUrl: string) {
  console.log(`
Herald is running.

  API            ${info.api_url}   (OpenAPI: ${info.api_url}/openapi.json, docs: ${info.api_url}/docs)
  Portal         ${portalUrl}
                 (the Dev tenant's webhook portal: opens once within the hour; \`./bin/herald portal\` prints a new link)
  Temporal UI    ${info.web_ui_url}
  Temporal gRPC  ${info.temporal_address}  namespace ${info.temporal_namespace}
  Admin API key  ${info.admin_key}
  SMTP           ${info.smtp_url ?? '(none)'}   (email channels; with herald dev's catcher, messages are printed below)
  Written to     .herald/dev.json (the herald CLI reads it)

Publish a test event (tenant ${info.dev_tenant_id}; it has no endpoint yet, see the README's API tour):

  curl -s -X POST ${info.api_url}/v1/tenants/${info.dev_tenant_id}/events \\
    -H "Authorization: Bearer ${info.dev_api_key}" \\
    -H "Content-Type: application/json" \\
    -d '{"event_type": "v1.dev.ping", "data": {"hello": "world"}}'

Ctrl-C stops everything; data stays in .herald/.
`);
}

/**
 * A tenant and an event type for trying Herald at once: created on the first `herald dev`, reused after
 * (kept in .herald/dev-tenant.json; recreated if the database was reset).
 */
async function ensureDevTenant(apiUrl: string, adminKey: string, home: string): Promise<{ tenant_id: string; api_key: string }> {
  const asAdmin = apiRequester({ url: apiUrl, key: adminKey });
  const file = path.join(home, 'dev-tenant.json');
  let tenant: { tenant_id: string; api_key: string } | undefined;
  try {
    tenant = JSON.parse(await readFile(file, 'utf8')) as { tenant_id: string; api_key: string };
    await apiRequester({ url: apiUrl, key: tenant.api_key })('GET', `/v1/tenants/${tenant.tenant_id}`);
  } catch {
    tenant = undefined;
  }
  if (!tenant) {
    const created = await asAdmin<{ id: string; api_key: string }>('POST', '/v1/tenants', { name: 'Dev' });
    tenant = { tenant_id: created.id, api_key: created.api_key };
    await writeFile(file, JSON.stringify(tenant, null, 2), { mode: 0o600 });
  }
  // 409 when it exists already.
  await asAdmin('POST', '/v1/event-types', { name: 'v1.dev.ping', description: 'A test event for herald dev', schema: { type: 'object' } }).catch(() => {});
  return tenant;
}
