import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Agent, request } from 'undici';
import { buildEnvelope } from '../core/envelope.js';
import { schemaVersionOf, testEventType } from '../core/event-catalog.js';
import { newId } from '../core/ids.js';
import { resolveProfile, signatureHeaders, signatureSettingsSchema, verifySignature, WebhookSignatureError } from '../core/signing.js';

/** `herald webhooks …`: the receiver-side tools, for people integrating with a Herald deployment. */
export function registerWebhooksCommands(program: Command): void {
  const webhooks = program.command('webhooks').description('verify, test and scaffold webhook receivers');

  webhooks
    .command('verify')
    .description('check a captured delivery against a signing secret')
    .requiredOption('--payload <file>', 'the raw body, exactly as received')
    .requiredOption('--signature <value>', 'the signature header value, e.g. "t=1704067200,v1=…"')
    .requiredOption('--secret <secret>', 'the endpoint signing secret')
    // timestamped by default: its signature header carries the timestamp, so the value alone is enough.
    .option('--profile <name>', 'signature profile', 'timestamped')
    .option('--timestamp <unix seconds>', 'the timestamp header value, for profiles that send one (standard-webhooks)')
    .option('--id <message id>', 'the id header value, for profiles that sign it (standard-webhooks)')
    .option('--tolerance <seconds>', 'how old the timestamp may be', '300')
    .action(failingReadably(verifyCommand));

  webhooks
    .command('test')
    .description('send a signed v1.webhook.test event to a receiver')
    .requiredOption('--endpoint-url <url>', 'where to POST the test event')
    .requiredOption('--signing-secret <secret>', 'the secret the receiver verifies with')
    .option('--profile <name>', 'signature profile', 'standard-webhooks')
    .option('--header-name <role=name>', 'a header name override, e.g. signature=X-Klarefi-Signature (repeatable)', collectHeaderNames, {})
    .option('--client-id <id>', 'the client id header value, for profiles that send one', 'herald-cli')
    .action(failingReadably(testCommand));

  webhooks
    .command('init')
    .description('write a starter receiver route that verifies deliveries')
    .addOption(new Option('--framework <framework>', 'the web framework').choices(Object.keys(starters)).makeOptionMandatory())
    .option('--out <path>', 'the file to write (default: the framework’s usual place)')
    .option('--import-from <module>', 'the module specifier of the receiver toolkit', 'herald/receiver')
    .action(failingReadably(initCommand));
}

/** One readable line on stderr instead of a stack trace; the exit code says it failed. */
function failingReadably<Options>(action: (options: Options) => Promise<void>) {
  return async (options: Options) => {
    try {
      await action(options);
    } catch (error) {
      console.error(`herald: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    }
  };
}

function collectHeaderNames(pair: string, names: Record<string, string>): Record<string, string> {
  const [role, name] = pair.split('=', 2);
  if (!role || !name) throw new InvalidArgumentError(`--header-name wants role=name, got "${pair}"`);
  return { ...names, [role]: name };
}

function seconds(value: string, option: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${option} must be a whole number of seconds, got "${value}"`);
  return Number(value);
}

async function verifyCommand(options: { payload: string; signature: string; secret: string; profile: string; timestamp?: string; id?: string; tolerance: string }) {
  const profile = resolveProfile({ profile: options.profile });
  if (!profile.signature) throw new Error(`the ${options.profile} profile does not sign deliveries, so there is nothing to verify`);
  const headers: Record<string, string> = { [profile.signature.header]: options.signature };
  for (const [value, header, option] of [
    [options.id, profile.idHeader, '--id'],
    [options.timestamp, profile.timestampHeader, '--timestamp'],
  ] as const) {
    if (value === undefined) continue;
    if (!header) throw new Error(`${option} does not apply to the ${options.profile} profile`);
    headers[header] = value;
  }
  const body = await readFile(options.payload);
  try {
    verifySignature({ profile, secrets: [options.secret], headers, body, toleranceSeconds: seconds(options.tolerance, '--tolerance') });
    console.log('valid');
  } catch (error) {
    if (!(error instanceof WebhookSignatureError)) throw error;
    console.log(`invalid: ${error.reason} (${error.message})`);
    process.exitCode = 1;
  }
}

const responsePreviewChars = 500;

async function testCommand(options: { endpointUrl: string; signingSecret: string; profile: string; headerName: Record<string, string>; clientId: string }) {
  const url = new URL(options.endpointUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--endpoint-url must be http(s), got ${url.protocol}`);
  const settings = signatureSettingsSchema.safeParse({ profile: options.profile, headers: options.headerName });
  if (!settings.success) throw new Error(`--header-name: ${settings.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`);
  const profile = resolveProfile(settings.data);

  const createdAt = new Date();
  const ids = { eventId: newId('event'), deliveryId: newId('delivery'), traceId: newId('trace') };
  const body = buildEnvelope('herald', {
    ...ids,
    eventType: testEventType,
    schemaVersion: schemaVersionOf(testEventType),
    createdAt,
    data: { message: 'A test event from `herald webhooks test`: if your receiver verified it, it is ready.' },
  });
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Herald-Webhooks-CLI/0.1',
    ...signatureHeaders({
      profile,
      secrets: [options.signingSecret],
      messageId: ids.deliveryId,
      timestamp: Math.floor(createdAt.getTime() / 1000),
      body,
      clientId: options.clientId,
    }),
  };

  // A private agent, destroyed at the end, so no kept-alive socket holds the process open; undici's request never follows redirects.
  const agent = new Agent({ connect: { timeout: 10_000 } });
  const started = performance.now();
  try {
    const response = await request(url, { method: 'POST', headers, body, dispatcher: agent, signal: AbortSignal.timeout(10_000) });
    const duration = Math.round(performance.now() - started);
    let preview = '';
    for await (const chunk of response.body) {
      preview += chunk.toString('utf8');
      if (preview.length >= responsePreviewChars) break;
    }
    console.log(`${response.statusCode} in ${duration} ms (delivery ${ids.deliveryId})`);
    if (preview) console.log(preview.slice(0, responsePreviewChars));
    if (response.statusCode < 200 || response.statusCode > 299) process.exitCode = 1;
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? 'no answer within 10 s' : error instanceof Error ? error.message : String(error);
    throw new Error(`POST ${url.href} failed: ${reason}`);
  } finally {
    await agent.destroy();
  }
}

/** Starter routes: they verify with the toolkit and acknowledge at once, leaving the work to a queue. */
const starters = {
  express: {
    defaultPath: 'src/webhooks/herald.ts',
    source: (toolkit: string) => `import express from 'express';
import { webhookHandler } from '${toolkit}';

// The endpoint's signing secret (whsec_…). During a rotation, list the new and the old one.
const secret = process.env.HERALD_WEBHOOK_SECRET;
if (!secret) throw new Error('set HERALD_WEBHOOK_SECRET to the endpoint signing secret');

export const heraldWebhooks = express.Router();

// Mount before any app-wide express.json(): the signature covers the raw bytes.
heraldWebhooks.post(
  '/webhooks/herald',
  ...webhookHandler({ secret, profile: 'standard-webhooks' }, (event, _req, res) => {
    // Deliveries can repeat: deduplicate on event.delivery_id. Answer within seconds; do slow work elsewhere.
    console.log('herald event', event.event_type, event.delivery_id);
    res.sendStatus(204);
  }),
);
`,
  },
  next: {
    defaultPath: 'app/api/webhooks/herald/route.ts',
    source: (toolkit: string) => `import { constructEvent, WebhookSignatureError, type HeraldEnvelope } from '${toolkit}';

// The endpoint's signing secret (whsec_…). During a rotation, list the new and the old one.
const secret = process.env.HERALD_WEBHOOK_SECRET ?? '';

export async function POST(request: Request): Promise<Response> {
  // The signature covers the raw bytes: read the body as text, never as parsed JSON.
  const rawBody = await request.text();
  let event: HeraldEnvelope;
  try {
    event = constructEvent(rawBody, Object.fromEntries(request.headers), secret, { profile: 'standard-webhooks' });
  } catch (error) {
    if (error instanceof WebhookSignatureError) {
      return Response.json({ error: { code: 'invalid_signature', message: error.message, details: { reason: error.reason } } }, { status: 401 });
    }
    throw error;
  }
  // Deliveries can repeat: deduplicate on event.delivery_id. Answer within seconds; do slow work elsewhere.
  console.log('herald event', event.event_type, event.delivery_id);
  return new Response(null, { status: 204 });
}
`,
  },
};

async function initCommand(options: { framework: keyof typeof starters; out?: string; importFrom: string }) {
  const starter = starters[options.framework];
  const file = path.resolve(options.out ?? starter.defaultPath);
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(file, starter.source(options.importFrom), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${file} already exists; not overwriting it`);
    throw error;
  }
  console.log(`wrote ${file}`);
}
