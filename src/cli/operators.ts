import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readDevInfo } from '../stack/dev-files.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseSince, sinceMessage } from '../core/replay.js';
import { apiRequester, resolveApiTarget, type ApiRequest } from './api-client.js';
import { formatFields, formatTable, printJson, progressBar } from './output.js';

/**
 * The operator commands: endpoints, deliveries, replay, recover and events, all through the HTTP API
 * (HERALD_URL / HERALD_API_KEY, or .herald/dev.json), so they work the same against `herald dev` and
 * production. Errors are one line on stderr and exit code 2; a negative result (a test send that was
 * not answered 2xx, a replay that ended failed) exits 1.
 */

interface Context {
  api: ApiRequest;
  /** `/v1/tenants/<id>`, from --tenant or HERALD_TENANT. */
  tenantPath: () => string;
  options: Record<string, any>;
  args: string[];
}

const pollEveryMs = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const enc = encodeURIComponent;

export function operatorAction(action: (context: Context) => Promise<void>) {
  return async (...received: unknown[]) => {
    const command = received.at(-1) as Command;
    const options = command.opts();
    try {
      const api = apiRequester(await resolveApiTarget());
      const tenantPath = () => {
        if (!options.tenant) throw new Error('which tenant? pass --tenant <tenant_id> or set HERALD_TENANT');
        return `/v1/tenants/${enc(options.tenant)}`;
      };
      await action({ api, tenantPath, options, args: command.processedArgs as string[] });
    } catch (error) {
      console.error(`herald: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    }
  };
}

/** A subcommand with --tenant (or HERALD_TENANT) and --json. */
export function tenantCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .addOption(new Option('--tenant <tenant_id>', 'the tenant').env('HERALD_TENANT'))
    .option('--json', 'print the API answer as JSON');
}

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

function dateOrAgo(value: string): string {
  const date = parseSince(value);
  if (!date) throw new InvalidArgumentError(sinceMessage);
  return date.toISOString();
}

export function query(parameters: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** `--data @file.json`, `--data -` (stdin) or `--data '{"json": true}'`. */
async function readData(value: string): Promise<unknown> {
  const text = await readText('--data', value);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--data is not valid JSON: ${(error as Error).message}`);
  }
}

/** An option's text: `@file`, `-` (stdin) or the text itself. */
async function readText(option: string, value: string): Promise<string> {
  if (value === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  if (!value.startsWith('@')) return value;
  return readFile(value.slice(1), 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${option} ${value}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
}

export const nextPage = (page: { next_cursor: string | null }) => {
  if (page.next_cursor) console.log(`\nmore: --cursor ${page.next_cursor}`);
};

export function registerOperatorCommands(program: Command): void {
  registerEndpointCommands(program);
  registerTemplateCommands(program.commands.find((command) => command.name() === 'endpoints')!);
  registerDeliveryCommands(program);
  registerRetryNowCommand(program.commands.find((command) => command.name() === 'deliveries')!);
  registerReplayCommands(program);
  registerEventCommands(program);
  registerPortalCommand(program);
}

function registerPortalCommand(program: Command): void {
  program
    .command('portal')
    .description("print a fresh one-time link to a tenant's webhook portal (for the tenant's customer, or you)")
    .argument('[tenant_id]', 'the tenant (default: HERALD_TENANT, or the Dev tenant of herald dev)')
    .option('--expires-in <duration>', 'how long the link may be opened, once (15m, 2h, at most 7d)', '15m')
    .option('--read-only', 'a session that can look but not change anything')
    .option('--json', 'print the API answer as JSON')
    .action(
      operatorAction(async ({ api, options, args }) => {
        const tenantId = args[0] ?? process.env.HERALD_TENANT ?? (await readDevInfo(path.resolve(process.env.HERALD_HOME ?? '.herald')))?.dev_tenant_id;
        if (!tenantId) throw new Error('which tenant? pass a tenant id, or set HERALD_TENANT');
        const link = await api('POST', `/v1/tenants/${enc(tenantId)}/portal-sessions`, { expires_in: options.expiresIn, read_only: Boolean(options.readOnly) });
        if (options.json) return printJson(link);
        console.log(link.url);
        console.error(`opens once, until ${link.expires_at}${link.read_only ? ' (read-only)' : ''}`);
      }),
    );
}

function registerEndpointCommands(program: Command): void {
  const endpoints = program.command('endpoints').description("list, inspect, enable, disable and test a tenant's endpoints, and set and preview their payload templates");

  tenantCommand(endpoints, 'list', 'list endpoints with their health')
    .option('--limit <n>', 'page size (1-100)', positiveInteger, 50)
    .option('--cursor <cursor>', 'the next page, from a previous answer')
    .action(
      operatorAction(async ({ api, tenantPath, options }) => {
        const page = await api('GET', `${tenantPath()}/endpoints${query({ limit: options.limit, cursor: options.cursor })}`);
        if (options.json) return printJson(page);
        console.log(
          formatTable(page.data, [
            { header: 'ID', value: (endpoint: any) => endpoint.id },
            { header: 'ACTIVE', value: (endpoint: any) => (endpoint.active ? 'yes' : `no (${endpoint.disabled_reason ?? 'manual'})`) },
            { header: 'HEALTH', value: (endpoint: any) => `${endpoint.health.colour} ${endpoint.health.status}` },
            { header: 'SUCCESS 24H', value: (endpoint: any) => (endpoint.health.success_rate_24h === null ? '-' : `${Math.round(endpoint.health.success_rate_24h * 1000) / 10}%`) },
            { header: 'EVENT TYPES', value: (endpoint: any) => endpoint.event_types, max: 40 },
            { header: 'URL', value: (endpoint: any) => endpoint.url, max: 80 },
          ]),
        );
        nextPage(page);
      }),
    );

  tenantCommand(endpoints, 'show', 'show one endpoint, its health and its latest attempts')
    .argument('<endpoint_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const endpoint = await api('GET', `${tenantPath()}/endpoints/${enc(id!)}`);
        const attempts = await api('GET', `${tenantPath()}/endpoints/${enc(id!)}/attempts?limit=10`);
        if (options.json) return printJson({ ...endpoint, recent_attempts: attempts.data });
        console.log(
          formatFields([
            ['id', endpoint.id],
            ['url', endpoint.url],
            ['active', endpoint.active ? 'yes' : `no, ${endpoint.disabled_reason} since ${endpoint.disabled_at}`],
            ['health', `${endpoint.health.colour} (${endpoint.health.status}), ${endpoint.health.consecutive_failures} consecutive failures`],
            ['success rate 24h', endpoint.health.success_rate_24h],
            ['last delivery', endpoint.health.last_delivery_at],
            ['event types', endpoint.event_types],
            ['signature', endpoint.signature],
            ['envelope', endpoint.template ? `${endpoint.envelope} (not used: the template replaces it)` : endpoint.envelope],
            ['template', endpoint.template ? `${endpoint.template.engine}, ${endpoint.template.content_type}${endpoint.template.strict_variables ? ', strict variables' : ''}\n${endpoint.template.source}` : 'none'],
            ['retry schedule', endpoint.retry_schedule],
            ['timeout', endpoint.timeout],
            ['disable after', `${endpoint.disable_after_failures} consecutive failures`],
            ['secret', endpoint.secret],
          ]),
        );
        if (attempts.data.length > 0) console.log(`\nlatest attempts:\n${attemptTable(attempts.data)}`);
      }),
    );

  for (const action of ['enable', 'disable'] as const) {
    const command = tenantCommand(endpoints, action, action === 'enable' ? 'enable an endpoint (its failure count starts again at 0)' : 'disable an endpoint').argument('<endpoint_id>');
    if (action === 'disable') command.option('--reason <text>', 'why, kept as disabled_reason', 'manual');
    command.action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const endpoint = await api('POST', `${tenantPath()}/endpoints/${enc(id!)}/${action}`, action === 'disable' ? { reason: options.reason } : {});
        if (options.json) return printJson(endpoint);
        console.log(`endpoint ${endpoint.id} is ${endpoint.active ? 'enabled' : `disabled (${endpoint.disabled_reason})`}`);
      }),
    );
  }

  tenantCommand(endpoints, 'test', 'send a signed v1.webhook.test request to the endpoint now (exit 1 unless answered 2xx)')
    .argument('<endpoint_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const result = await api('POST', `${tenantPath()}/endpoints/${enc(id!)}/test`);
        if (!result.success) process.exitCode = 1;
        if (options.json) return printJson(result);
        const outcome = result.status_code === null ? `no answer (${result.error_class}: ${result.error_message})` : `HTTP ${result.status_code}`;
        console.log(`${result.success ? 'ok' : 'failed'}: ${outcome} in ${result.duration_ms} ms`);
        for (const [name, value] of Object.entries(result.signature_headers)) console.log(`  ${name}: ${value}`);
        if (result.response_excerpt) console.log(result.response_excerpt);
      }),
    );
}

function registerTemplateCommands(endpoints: Command): void {
  tenantCommand(endpoints, 'set-template', "set an endpoint's payload template (refused with the line and column when it does not compile)")
    .argument('<endpoint_id>')
    .option('--source <liquid>', 'the Liquid template: the text, @file or - (stdin)')
    .option('--content-type <type>', 'the Content-Type sent (a JSON type requires the rendered body to parse as JSON)', 'application/json')
    .option('--lenient', 'render a variable missing from the event as empty instead of failing the attempt')
    .option('--remove', 'remove the template: deliveries send the envelope again')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        if (!options.remove && !options.source) throw new Error('pass --source <liquid|@file|-> or --remove');
        const template = options.remove
          ? null
          : { engine: 'liquid', source: await readText('--source', options.source), content_type: options.contentType, strict_variables: !options.lenient };
        const endpoint = await api('PATCH', `${tenantPath()}/endpoints/${enc(id!)}`, { template });
        if (options.json) return printJson(endpoint);
        console.log(endpoint.template ? `endpoint ${endpoint.id} sends its template (${endpoint.template.content_type})` : `endpoint ${endpoint.id} sends the ${endpoint.envelope} envelope`);
      }),
    );

  tenantCommand(endpoints, 'preview', 'print the request an event would be sent as (headers and body, signed); nothing is sent')
    .argument('<endpoint_id>')
    .option('--event <event_id>', "one of the tenant's events")
    .option('--event-type <type>', 'a sample event of this type (with --data)')
    .option('--data <json>', "the sample event's data: JSON, @file or - (stdin)", '{}')
    .option('--source <liquid>', 'a draft template to preview instead of the saved one: the text, @file or -')
    .option('--content-type <type>', "the draft's Content-Type", 'application/json')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        if (!options.event === !options.eventType) throw new Error('pass either --event <event_id> or --event-type <type> [--data <json>]');
        const event = options.event ? { event_id: options.event } : { event_type: options.eventType, data: await readData(options.data) };
        const draft = options.source ? { template: { engine: 'liquid', source: await readText('--source', options.source), content_type: options.contentType } } : {};
        const preview = await api('POST', `${tenantPath()}/endpoints/${enc(id!)}/template/preview`, { ...event, ...draft });
        if (options.json) return printJson(preview);
        console.log(`POST ${preview.url}`);
        for (const [name, value] of Object.entries(preview.headers)) console.log(`${name}: ${value}`);
        console.log(`\n${preview.body}`);
      }),
    );
}

function attemptTable(attempts: any[]): string {
  return formatTable(attempts, [
    { header: '#', value: (attempt) => (attempt.kind === 'test' ? 'test' : attempt.attempt) },
    { header: 'STARTED', value: (attempt) => attempt.started_at },
    { header: 'DELIVERY', value: (attempt) => attempt.delivery_id },
    { header: 'STATUS', value: (attempt) => attempt.status_code },
    { header: 'MS', value: (attempt) => attempt.duration_ms },
    { header: 'RESULT', value: (attempt) => (attempt.success ? 'ok' : `${attempt.error_class}: ${attempt.error_message}`), max: 60 },
  ]);
}

function registerDeliveryCommands(program: Command): void {
  const deliveries = program.command('deliveries').description('find deliveries and read their attempt logs');

  tenantCommand(deliveries, 'list', 'list deliveries, newest first (--status failed is the dead-letter set)')
    .option('--endpoint <endpoint_id>', 'only this endpoint')
    .option('--event <event_id>', 'only this event')
    .option('--event-type <type>', 'only this event type')
    .addOption(new Option('--status <status>', 'only this status').choices(['pending', 'delivering', 'retrying', 'delivered', 'failed']))
    .option('--since <when>', 'created at or after: an ISO date or a duration ago (2h)', dateOrAgo)
    .option('--until <when>', 'created before: an ISO date or a duration ago', dateOrAgo)
    .option('--limit <n>', 'page size (1-100)', positiveInteger, 50)
    .option('--cursor <cursor>', 'the next page, from a previous answer')
    .action(
      operatorAction(async ({ api, tenantPath, options }) => {
        const page = await api(
          'GET',
          `${tenantPath()}/deliveries${query({
            endpoint_id: options.endpoint,
            event_id: options.event,
            event_type: options.eventType,
            status: options.status,
            since: options.since,
            until: options.until,
            limit: options.limit,
            cursor: options.cursor,
          })}`,
        );
        if (options.json) return printJson(page);
        console.log(
          formatTable(page.data, [
            { header: 'ID', value: (delivery: any) => delivery.id },
            { header: 'STATUS', value: (delivery: any) => delivery.status },
            { header: 'ATTEMPTS', value: (delivery: any) => `${delivery.attempts}/${delivery.max_attempts}` },
            { header: 'EVENT TYPE', value: (delivery: any) => delivery.event_type },
            { header: 'ENDPOINT', value: (delivery: any) => delivery.endpoint_id },
            { header: 'CREATED', value: (delivery: any) => delivery.created_at },
            { header: 'LAST ERROR', value: (delivery: any) => delivery.failure_reason ? `${delivery.failure_reason}: ${delivery.last_error ?? ''}` : delivery.last_error, max: 50 },
          ]),
        );
        nextPage(page);
      }),
    );

  tenantCommand(deliveries, 'show', 'show a delivery (live progress while it runs) with its attempt log')
    .argument('<delivery_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const delivery = await api('GET', `${tenantPath()}/deliveries/${enc(id!)}`);
        if (options.json) return printJson(delivery);
        console.log(
          formatFields([
            ['id', delivery.id],
            ['status', `${delivery.status}${delivery.failure_reason ? ` (${delivery.failure_reason})` : ''}${delivery.live ? ' [live from its workflow]' : ''}`],
            ['attempts', `${delivery.attempts} of ${delivery.max_attempts}`],
            ['next attempt', delivery.next_attempt_at],
            ['last status', delivery.last_status_code],
            ['last error', delivery.last_error],
            ['event', `${delivery.event_id} (${delivery.event_type})`],
            ['endpoint', delivery.endpoint_id],
            ['replay of', delivery.replay_of],
            ['reset', delivery.resets ? `${delivery.resets} time${delivery.resets === 1 ? '' : 's'}, latest ${delivery.reset_at}: ${delivery.reset_reason ?? '(no reason)'}` : null],
            ['workflow', `delivery-${delivery.id}`],
            ['created', delivery.created_at],
            ['completed', delivery.completed_at],
          ]),
        );
        if (delivery.attempts_log.length > 0) console.log(`\n${attemptTable(delivery.attempts_log)}`);
      }),
    );

  tenantCommand(deliveries, 'cancel', 'cancel a running delivery: it ends failed (cancelled), as with `temporal workflow cancel`')
    .argument('<delivery_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const delivery = await api('POST', `${tenantPath()}/deliveries/${enc(id!)}/cancel`);
        if (options.json) return printJson(delivery);
        const ended = delivery.status === 'failed';
        console.log(
          ended
            ? `delivery ${delivery.id} cancelled: failed (${delivery.failure_reason}) after ${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}`
            : `cancellation of delivery ${delivery.id} requested; it is still ${delivery.status} (its workflow ends it when a worker picks the cancellation up)`,
        );
      }),
    );
}

function registerRetryNowCommand(deliveries: Command): void {
  tenantCommand(deliveries, 'retry', 'run the next attempt of a delivery waiting for a retry now (its retryNow update); exit 1 unless delivered')
    .argument('<delivery_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const outcome = await api('POST', `${tenantPath()}/deliveries/${enc(id!)}/retry`);
        if (outcome.status !== 'delivered') process.exitCode = 1;
        if (options.json) return printJson(outcome);
        const answered = outcome.status_code === null ? '' : ` (HTTP ${outcome.status_code})`;
        console.log(`attempt ${outcome.attempt}: ${outcome.status}${answered}${outcome.error ? `: ${outcome.error}` : ''}`);
      }),
    );
}

async function waitForDelivery(api: ApiRequest, tenantPath: string, deliveryId: string): Promise<any> {
  for (;;) {
    const delivery = await api('GET', `${tenantPath}/deliveries/${enc(deliveryId)}`);
    if (delivery.status === 'delivered' || delivery.status === 'failed') return delivery;
    await sleep(pollEveryMs);
  }
}

function registerReplayCommands(program: Command): void {
  tenantCommand(program, 'replay', 'replay a delivery: a new attempt series, with a new delivery id, for the same event and endpoint')
    .argument('<delivery_id>')
    .option('--force', 'replay even though the endpoint is disabled')
    .option('--wait', 'wait until the replay is delivered or failed (exit 1 if failed)')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const replay = await api('POST', `${tenantPath()}/deliveries/${enc(id!)}/replay`, { force: Boolean(options.force) });
        const finished = options.wait ? await waitForDelivery(api, tenantPath(), replay.delivery_id) : undefined;
        if (finished?.status === 'failed') process.exitCode = 1;
        if (options.json) return printJson(finished ? { ...replay, status: finished.status, delivery: finished } : replay);
        console.log(`replay ${replay.delivery_id} of ${replay.replay_of} started (workflow delivery-${replay.delivery_id})`);
        if (finished) console.log(`${finished.status} after ${finished.attempts} attempt${finished.attempts === 1 ? '' : 's'}${finished.last_error ? `: ${finished.last_error}` : ''}`);
      }),
    );

  tenantCommand(program, 'recover', "replay every failed delivery of an endpoint in a window, showing the recovery workflow's progress")
    .argument('<endpoint_id>')
    .requiredOption('--since <when>', 'start of the window: an ISO date, or a duration ago (2h, 3d)')
    .option('--until <when>', 'end of the window (default: now)')
    .addOption(new Option('--status <status>', 'which deliveries to replay').choices(['failed', 'delivered']).default('failed'))
    .option('--batch-size <n>', 'deliveries replayed per step', positiveInteger)
    .option('--force', 'recover even though the endpoint is disabled')
    .option('--no-wait', 'start the recovery and return')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [endpointId] }) => {
        const base = `${tenantPath()}/endpoints/${enc(endpointId!)}`;
        const started = await api('POST', `${base}/recover`, {
          since: options.since,
          until: options.until,
          status: options.status,
          batch_size: options.batchSize,
          force: Boolean(options.force),
        });
        if (!options.wait) {
          if (options.json) return printJson(started);
          console.log(`recovery ${started.recovery_id} started: ${started.count} deliveries to replay (workflow ${started.workflow_id})`);
          return;
        }
        if (!options.json) console.error(`recovery ${started.recovery_id}: ${started.count} deliveries to replay (workflow ${started.workflow_id})`);
        const recovery = await followRecovery(api, `${base}/recoveries/${enc(started.recovery_id)}`, !options.json);
        if (options.json) return printJson(recovery);
        console.log(`recovery ${recovery.id} completed: ${recovery.replayed} of ${recovery.total} deliveries replayed`);
      }),
    );
}

/** Polls a recovery until it completes, drawing a bar on stderr (redrawn in place on a terminal, a line per change otherwise). */
async function followRecovery(api: ApiRequest, path: string, draw: boolean): Promise<any> {
  const terminal = process.stderr.isTTY;
  let shown = -1;
  for (;;) {
    const recovery = await api('GET', path);
    if (draw && recovery.replayed !== shown) {
      shown = recovery.replayed;
      const bar = `${progressBar(recovery.replayed, recovery.total)} replayed`;
      process.stderr.write(terminal ? `\r${bar}` : `${bar}\n`);
    }
    if (recovery.status === 'completed') {
      if (draw && terminal) process.stderr.write('\n');
      return recovery;
    }
    await sleep(pollEveryMs);
  }
}

function registerEventCommands(program: Command): void {
  const events = program.command('events').description('publish and replay events');

  tenantCommand(events, 'publish', 'publish an event to every subscribed endpoint')
    .argument('<event_type>')
    .requiredOption('--data <json>', "the event's data: @file.json, - for stdin, or inline JSON")
    .option('--idempotency-key <key>', 'makes retrying this command safe')
    .option('--trace-id <id>', 'correlates logs; generated when absent')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [eventType] }) => {
        const data = await readData(options.data);
        const body = { event_type: eventType, data, ...(options.traceId ? { trace_id: options.traceId } : {}) };
        const published = await api('POST', `${tenantPath()}/events`, body, options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {});
        if (options.json) return printJson(published);
        console.log(`event ${published.event_id} published to ${published.delivery_count} endpoint${published.delivery_count === 1 ? '' : 's'} (trace ${published.trace_id})`);
        for (const delivery of published.deliveries) console.log(`  ${delivery.delivery_id} → ${delivery.endpoint_id}`);
      }),
    );

  tenantCommand(events, 'replay', "replay an event to its type's current subscribers, or to some endpoints")
    .argument('<event_id>')
    .option('--endpoint <endpoint_id...>', 'only these endpoints')
    .option('--force', 'include disabled endpoints named with --endpoint')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [eventId] }) => {
        const result = await api('POST', `${tenantPath()}/events/${enc(eventId!)}/replay`, { endpoint_ids: options.endpoint, force: Boolean(options.force) });
        if (options.json) return printJson(result);
        console.log(`${result.replays.length} replay${result.replays.length === 1 ? '' : 's'} started`);
        for (const replay of result.replays) console.log(`  ${replay.delivery_id} → ${replay.endpoint_id}${replay.replay_of ? ` (replay of ${replay.replay_of})` : ''}`);
        for (const skipped of result.skipped) console.log(`  skipped ${skipped.endpoint_id}: ${skipped.delivery_id} is still running`);
      }),
    );
}

