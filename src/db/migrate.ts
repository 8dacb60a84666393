import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from './client.js';

export const migrationsDirectory = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const sourceMigrationsDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/db/migrations');

/** Arbitrary constant: serialises concurrent migrators (API and worker starting together). */
const migrationLockId = 7_302_154_991;

/**
 * Applies forward-only SQL files in name order, each in its own transaction,
 * and records them in herald_migrations. Returns the names it applied.
 */
export async function migrate(sql: Sql, directory?: string): Promise<string[]> {
  const folder = directory ?? (await pickMigrationsFolder());
  const files = (await readdir(folder)).filter((name) => name.endsWith('.sql')).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${migrationLockId})`;
    await tx`create table if not exists herald_migrations (name text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ name: string }[]>`select name from herald_migrations`).map((row) => row.name));
    for (const name of files) {
      if (done.has(name)) continue;
      const text = await readFile(path.join(folder, name), 'utf8');
      await tx.savepoint(async (step) => {
        await step.unsafe(text);
        await step`insert into herald_migrations (name) values (${name})`;
      });
      applied.push(name);
    }
  });
  return applied;
}

async function pickMigrationsFolder(): Promise<string> {
  // Compiled code (dist/) has no .sql files next to it; the sources do.
  try {
    const names = await readdir(migrationsDirectory);
    if (names.some((name) => name.endsWith('.sql'))) return migrationsDirectory;
  } catch {}
  return sourceMigrationsDirectory;
}
