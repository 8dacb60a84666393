import { existsSync } from 'node:fs';
import { chown, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execFileAsync, freePort, isRoot, waitFor } from './process.js';
import { connectDatabase } from '../db/client.js';

const postgresUser = 'postgres';
const superuser = 'herald';

export interface LocalPostgres {
  url: (database: string) => string;
  port: number;
  dataDir: string;
  stop: (mode?: 'fast' | 'immediate') => Promise<void>;
}

/** Finds initdb/pg_ctl: on PATH, or under the Debian/Ubuntu versioned folder. */
export async function postgresBinDir(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('pg_config', ['--bindir']);
    const dir = stdout.trim();
    if (existsSync(path.join(dir, 'initdb'))) return dir;
  } catch {}
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = (await readdir(root)).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = path.join(root, version, 'bin');
      if (existsSync(path.join(dir, 'initdb'))) return dir;
    }
  }
  throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL 14+ (apt-get install postgresql) or set DATABASE_URL');
}

/** initdb refuses to run as root, so as root the cluster belongs to the postgres system user. */
async function runAsOwner(binary: string, args: string[]) {
  if (isRoot()) return execFileAsync('runuser', ['-u', postgresUser, '--', binary, ...args], { cwd: '/' });
  return execFileAsync(binary, args);
}

async function ensureOwned(dir: string) {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    const { stdout } = await execFileAsync('id', ['-u', postgresUser]);
    const { stdout: group } = await execFileAsync('id', ['-g', postgresUser]);
    await chown(dir, Number(stdout.trim()), Number(group.trim()));
  }
}

/**
 * Starts (creating on first use) a PostgreSQL cluster in `dataDir`, listening on 127.0.0.1 only,
 * with trust authentication for the loopback superuser `herald`. Data survives restarts.
 */
export async function startLocalPostgres(options: { dataDir: string; port?: number; database?: string }): Promise<LocalPostgres> {
  const bin = await postgresBinDir();
  const dataDir = path.resolve(options.dataDir);
  const port = options.port || (await freePort());
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await ensureOwned(dataDir);
    await runAsOwner(path.join(bin, 'initdb'), ['-D', dataDir, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  }
  // A cluster left running by a killed session is stopped first, so its port and settings are ours.
  if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
    await runAsOwner(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => {});
  }
  // synchronous_commit stays on: a commit Herald was told about must survive the server crashing (the
  // chaos run stops it with -m immediate); with it off, a delivery recorded as delivered could roll back
  // after its workflow had completed, and stay `pending` for good.
  const settings = [
    `-p ${port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=${dataDir}`,
    `-c max_connections=300`,
    `-c shared_buffers=256MB`,
    `-c synchronous_commit=on`,
    `-c fsync=on`,
  ].join(' ');
  await runAsOwner(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-l', path.join(dataDir, 'postgres.log'), '-o', settings, '-w', '-t', '60', 'start']);
  const url = (database: string) => `postgres://${superuser}@127.0.0.1:${port}/${database}`;
  if (options.database) await createDatabaseIfMissing(url('postgres'), options.database);
  return {
    url,
    port,
    dataDir,
    stop: async (mode = 'fast') => {
      await runAsOwner(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop']).catch(() => {});
    },
  };
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const sql = connectDatabase(adminUrl, { max: 1 });
  try {
    await waitFor('PostgreSQL', () => sql`select 1`, 30_000);
    const rows = await sql`select 1 from pg_database where datname = ${database}`;
    if (rows.length === 0) await sql.unsafe(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await sql.end();
  }
}
