import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// src/version.ts and dist/src/version.js sit at different depths below package.json.
const packageJson = ['../package.json', '../../package.json'].map((relative) => fileURLToPath(new URL(relative, import.meta.url))).find(existsSync)!;

/** Herald's version, from package.json (sent in the User-Agent of every delivery). */
export const heraldVersion: string = JSON.parse(readFileSync(packageJson, 'utf8')).version;
