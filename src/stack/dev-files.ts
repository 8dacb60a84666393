import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface DevInfo {
  api_url: string;
  admin_key: string;
  /** A tenant for trying things out, and its API key. */
  dev_tenant_id: string;
  dev_api_key: string;
  temporal_address: string;
  temporal_namespace: string;
  web_ui_url: string | null;
  database_url: string;
  /** Where email channels send: herald dev's SMTP catcher (which prints them), or HERALD_SMTP_URL. */
  smtp_url?: string | null;
}

interface DevSecrets {
  admin_key: string;
  encryption_key: string;
}

/** Keys generated on the first `herald dev` and reused after, so stored secrets stay readable. */
export async function loadOrCreateDevSecrets(home: string): Promise<DevSecrets> {
  const file = path.join(home, 'secrets.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as DevSecrets;
  const secrets: DevSecrets = {
    admin_key: `sk_admin_${randomBytes(24).toString('base64url')}`,
    encryption_key: randomBytes(32).toString('base64'),
  };
  await mkdir(home, { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export const devInfoFile = (home: string) => path.join(home, 'dev.json');

export async function writeDevInfo(home: string, info: DevInfo): Promise<void> {
  await writeFile(devInfoFile(home), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export async function readDevInfo(home: string): Promise<DevInfo | undefined> {
  try {
    return JSON.parse(await readFile(devInfoFile(home), 'utf8')) as DevInfo;
  } catch {
    return undefined;
  }
}
