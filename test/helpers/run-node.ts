import { spawn } from 'node:child_process';
import path from 'node:path';

export const repositoryRoot = path.resolve(import.meta.dirname, '../..');

export interface ProcessRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point of the repository as a user would (`node --import tsx <entry> …`), with only `env`. */
export function runNodeEntry(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: repositoryRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The `herald` CLI as an operator runs it against a stack's API, as one tenant (configured by the environment only). */
export function runHeraldCli(target: { apiUrl: string; apiKey: string; tenantId: string }, args: string[]): Promise<ProcessRun> {
  return runNodeEntry('src/cli/main.ts', args, {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HERALD_URL: target.apiUrl,
    HERALD_API_KEY: target.apiKey,
    HERALD_TENANT: target.tenantId,
  });
}
