import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProfiles, signatureHeaders } from '../src/core/signing.js';
import { constructEvent, WebhookSignatureError, type HeraldEnvelope } from '../src/receiver/index.js';
import { runNodeEntry } from './helpers/run-node.js';

const repoRoot = path.resolve(import.meta.dirname, '..');
const secret = 'whsec_Y2xpIHRlc3RzIHNpZ25pbmcgc2VjcmV0';
const body = '{"event_type":"v1.case.completed","delivery_id":"whd_1","data":{"case_status":"completed"}}';

/** The CLI as a user runs it, asynchronously so the receiver in this process can answer it. */
function herald(...args: string[]) {
  return runNodeEntry('src/cli/main.ts', args, { PATH: process.env.PATH });
}

let folder: string;
let payloadFile: string;

beforeAll(async () => {
  // Inside the checkout (in the git-ignored .herald/) so generated starters resolve `express` like a project's own files.
  await mkdir(path.join(repoRoot, '.herald'), { recursive: true });
  folder = await mkdtemp(path.join(repoRoot, '.herald', 'webhooks-cli-test-'));
  payloadFile = path.join(folder, 'payload.json');
  await writeFile(payloadFile, body);
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sign = (profile: keyof typeof builtInProfiles, timestamp = nowSeconds()) =>
  signatureHeaders({ profile: builtInProfiles[profile], secrets: [secret], messageId: 'whd_1', timestamp, body, clientId: '' });

describe('herald webhooks verify', () => {
  it('prints "valid" and exits 0 for a timestamped signature given alone, as seed 000 documents', async () => {
    const result = await herald('webhooks', 'verify', '--payload', payloadFile, '--signature', sign('timestamped')['X-Herald-Signature']!, '--secret', secret);
    expect(result).toMatchObject({ status: 0, stdout: 'valid\n' });
  });

  it('prints "invalid: bad_signature" and exits 1 for the wrong secret', async () => {
    const signature = sign('timestamped')['X-Herald-Signature']!;
    const result = await herald('webhooks', 'verify', '--payload', payloadFile, '--signature', signature, '--secret', 'whsec_another');
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^invalid: bad_signature/);
  });

  it('reports an old capture as stale unless the tolerance is widened', async () => {
    const signature = sign('timestamped', nowSeconds() - 3600)['X-Herald-Signature']!;
    const stale = await herald('webhooks', 'verify', '--payload', payloadFile, '--signature', signature, '--secret', secret);
    expect(stale.status).toBe(1);
    expect(stale.stdout).toMatch(/^invalid: stale_timestamp/);
    const widened = await herald('webhooks', 'verify', '--payload', payloadFile, '--signature', signature, '--secret', secret, '--tolerance', '4000');
    expect(widened).toMatchObject({ status: 0, stdout: 'valid\n' });
  });

  it('verifies standard-webhooks with --id and --timestamp, and calls their absence a missing header', async () => {
    const headers = sign('standard-webhooks');
    const common = ['webhooks', 'verify', '--payload', payloadFile, '--signature', headers['webhook-signature']!, '--secret', secret, '--profile', 'standard-webhooks'];
    const valid = await herald(...common, '--id', headers['webhook-id']!, '--timestamp', headers['webhook-timestamp']!);
    expect(valid).toMatchObject({ status: 0, stdout: 'valid\n' });
    const withoutId = await herald(...common, '--timestamp', headers['webhook-timestamp']!);
    expect(withoutId.status).toBe(1);
    expect(withoutId.stdout).toMatch(/^invalid: missing_header/);
  });

  it('explains an unknown profile in one line on stderr', async () => {
    const result = await herald('webhooks', 'verify', '--payload', payloadFile, '--signature', 'x', '--secret', secret, '--profile', 'rot13');
    expect(result.status).not.toBe(0);
    expect(result.stderr.trim()).toBe('herald: unknown signature profile "rot13"');
  });

  it('explains a missing payload file in one line on stderr', async () => {
    const result = await herald('webhooks', 'verify', '--payload', path.join(folder, 'nope.json'), '--signature', 't=1,v1=00', '--secret', secret);
    expect(result.status).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/ENOENT/);
  });
});

describe('herald webhooks test', () => {
  let server: Server;
  let baseUrl: string;
  const seen: { path: string; headers: IncomingMessage['headers']; event?: HeraldEnvelope; error?: string }[] = [];

  beforeAll(async () => {
    // A receiver that checks deliveries the way a customer's would: the toolkit, its secret, its profile.
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const profile = req.url === '/klarefi' ? 'timestamped' : 'standard-webhooks';
      const headerNames = req.url === '/klarefi' ? { signature: 'X-Klarefi-Signature' } : undefined;
      try {
        const event = constructEvent(Buffer.concat(chunks), req.headers, secret, { profile, headers: headerNames });
        seen.push({ path: req.url!, headers: req.headers, event });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, echo: 'x'.repeat(1000) }));
      } catch (error) {
        seen.push({ path: req.url!, headers: req.headers, error: error instanceof WebhookSignatureError ? error.reason : String(error) });
        res.writeHead(401).end('bad signature');
      }
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends a v1.webhook.test herald envelope the receiver verifies, and exits 0 on 2xx', async () => {
    const result = await herald('webhooks', 'test', '--endpoint-url', `${baseUrl}/herald`, '--signing-secret', secret);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const delivery = seen.at(-1)!;
    expect(delivery.error).toBeUndefined();
    expect(delivery.event).toMatchObject({ event_type: 'v1.webhook.test', schema_version: 'v1' });
    expect(delivery.event!.event_id).toMatch(/^evt_[0-9A-Z]{26}$/);
    expect(delivery.event!.delivery_id).toMatch(/^whd_[0-9A-Z]{26}$/);
    expect(delivery.headers['webhook-id']).toBe(delivery.event!.delivery_id);
    const [statusLine, preview] = result.stdout.split('\n');
    expect(statusLine).toMatch(/^200 in \d+ ms/);
    expect(preview).toHaveLength(500);
    expect(preview!.startsWith('{"ok":true')).toBe(true);
  });

  it('signs with another profile under a renamed header when asked', async () => {
    const result = await herald(
      'webhooks', 'test', '--endpoint-url', `${baseUrl}/klarefi`, '--signing-secret', secret,
      '--profile', 'timestamped', '--header-name', 'signature=X-Klarefi-Signature',
    );
    expect(result.status).toBe(0);
    expect(seen.at(-1)?.headers['x-klarefi-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('exits 1 and shows the answer when the receiver refuses the signature', async () => {
    const result = await herald('webhooks', 'test', '--endpoint-url', `${baseUrl}/herald`, '--signing-secret', 'whsec_d3Jvbmc=');
    expect(result.status).toBe(1);
    expect(seen.at(-1)?.error).toBe('bad_signature');
    expect(result.stdout).toMatch(/^401 in \d+ ms[^\n]*\nbad signature/);
  });

  it('explains an unreachable receiver in one line on stderr', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await herald('webhooks', 'test', '--endpoint-url', `http://127.0.0.1:${port}/`, '--signing-secret', secret);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/^herald: POST http:\/\/127\.0\.0\.1:\d+\/ failed: .+\n$/);
  });
});

describe('herald webhooks init', () => {
  const toolkit = pathToFileURL(path.join(repoRoot, 'src/receiver/index.ts')).href;
  const signedRequest = (headers: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const forgedHeaders = () => ({ ...sign('standard-webhooks'), 'webhook-signature': 'v1,Zm9yZ2Vk' });

  it('writes a Next.js route that accepts a signed delivery and refuses a forged one', async () => {
    const file = path.join(folder, 'next', 'route.ts');
    const result = await herald('webhooks', 'init', '--framework', 'next', '--out', file, '--import-from', toolkit);
    expect(result).toMatchObject({ status: 0, stdout: `wrote ${file}\n` });

    process.env.HERALD_WEBHOOK_SECRET = secret;
    const route = (await import(pathToFileURL(file).href)) as { POST: (request: Request) => Promise<Response> };
    const post = (headers: Record<string, string>) => route.POST(new Request('http://receiver.test/api/webhooks/herald', signedRequest(headers)));
    expect((await post(sign('standard-webhooks'))).status).toBe(204);
    const forged = await post(forgedHeaders());
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: 'invalid_signature', details: { reason: 'bad_signature' } } });
  });

  it('writes an Express router that accepts a signed delivery and refuses a forged one', async () => {
    const file = path.join(folder, 'express', 'herald.ts');
    const result = await herald('webhooks', 'init', '--framework', 'express', '--out', file, '--import-from', toolkit);
    expect(result.status).toBe(0);

    process.env.HERALD_WEBHOOK_SECRET = secret;
    const { heraldWebhooks } = (await import(pathToFileURL(file).href)) as { heraldWebhooks: express.Router };
    const server = express().use(heraldWebhooks).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/herald`;
      expect((await fetch(url, signedRequest(sign('standard-webhooks')))).status).toBe(204);
      expect((await fetch(url, signedRequest(forgedHeaders()))).status).toBe(401);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('imports the toolkit as herald/receiver unless told otherwise', async () => {
    const file = path.join(folder, 'default', 'route.ts');
    expect((await herald('webhooks', 'init', '--framework', 'next', '--out', file)).status).toBe(0);
    expect(await readFile(file, 'utf8')).toContain("from 'herald/receiver';");
  });

  it('refuses to overwrite an existing file', async () => {
    const file = path.join(folder, 'mine.ts');
    await writeFile(file, '// my own receiver\n');
    const result = await herald('webhooks', 'init', '--framework', 'express', '--out', file);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toBe(`herald: ${file} already exists; not overwriting it\n`);
    expect(await readFile(file, 'utf8')).toBe('// my own receiver\n');
  });

  it('refuses an unknown framework', async () => {
    const result = await herald('webhooks', 'init', '--framework', 'rails', '--out', path.join(folder, 'x.rb'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/rails/);
  });
});
