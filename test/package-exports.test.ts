import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProfiles, signatureHeaders } from '../src/core/signing.js';

/**
 * The receiver toolkit as a customer gets it: Herald built (`npm run build`'s tsconfig), installed in a
 * project's node_modules, and the `herald webhooks init` starters importing it by its default specifier.
 */

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '..');
const tsc = path.join(repoRoot, 'node_modules', '.bin', 'tsc');
const secret = 'whsec_cGFja2FnZSBleHBvcnRzIHRlc3Qgc2VjcmV0';

let project: string;

beforeAll(async () => {
  project = await mkdtemp(path.join(os.tmpdir(), 'herald-consumer-'));
  const installed = path.join(project, 'node_modules', 'herald');
  await mkdir(installed, { recursive: true });
  await cp(path.join(repoRoot, 'package.json'), path.join(installed, 'package.json'));
  await run(tsc, ['-p', path.join(repoRoot, 'tsconfig.build.json'), '--outDir', path.join(installed, 'dist')], { cwd: repoRoot });
  // The toolkit's own dependencies and the project's types, as npm would have installed them.
  for (const dependency of ['express', 'zod', '@types']) await symlink(path.join(repoRoot, 'node_modules', dependency), path.join(project, 'node_modules', dependency));
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ type: 'module' }));
  await writeFile(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: ['node'] },
      include: ['src', 'app'],
    }),
  );
  for (const [framework, file] of [['express', 'src/herald.ts'], ['next', 'app/route.ts']]) {
    await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'webhooks', 'init', '--framework', framework!, '--out', path.join(project, file!)], { cwd: repoRoot });
  }
}, 120_000);

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the built package', () => {
  it('resolves herald/receiver (and herald) through its exports map to the toolkit', async () => {
    const script = "const toolkit = await import('herald/receiver'); const root = await import('herald'); console.log(JSON.stringify([Object.keys(toolkit).sort(), root.constructEvent === toolkit.constructEvent]))";
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
    expect(JSON.parse(stdout)).toEqual([['WebhookSignatureError', 'constructEvent', 'webhookHandler'], true]);
  });

  it('ships declarations, so both init starters type-check against it with their default import', async () => {
    await expect(run(tsc, ['-p', path.join(project, 'tsconfig.json')], { cwd: project })).resolves.toMatchObject({ stdout: '' });
  });

  it('runs the Next.js starter from the installed package: a signed delivery gets 204, a tampered one 401', async () => {
    const body = '{"event_type":"v1.case.completed","delivery_id":"whd_1","data":{}}';
    const headers = signatureHeaders({ profile: builtInProfiles['standard-webhooks'], secrets: [secret], messageId: 'whd_1', timestamp: Math.floor(Date.now() / 1000), body, clientId: '' });
    const script = `
      const { POST } = await import('./app/route.ts');
      const post = (body) => POST(new Request('http://receiver.test/', { method: 'POST', headers: ${JSON.stringify(headers)}, body }));
      console.log(JSON.stringify([(await post(${JSON.stringify(body)})).status, (await post(${JSON.stringify(`${body} `)})).status]));`;
    const tsx = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs');
    const { stdout } = await run(process.execPath, ['--import', `file://${tsx}`, '--input-type=module', '-e', script], { cwd: project, env: { ...process.env, HERALD_WEBHOOK_SECRET: secret } });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual([204, 401]);
  });
});
