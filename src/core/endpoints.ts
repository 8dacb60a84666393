import type { Sql } from '../db/client.js';
import { LimitReached, type FieldIssue } from './errors.js';
import type { SecretBox } from './crypto.js';
import type { EnvelopeKind } from './envelope.js';
import { templateIssues, type EndpointTemplate } from './templates.js';
import { allEventTypes, testEventType, unknownEventTypes } from './event-catalog.js';
import { newId } from './ids.js';
import { destinationUrlIssue, type UrlPolicy } from './url-policy.js';
import type { RetrySchedule } from './retry-schedule.js';
import { protectedHeaderIssue, protectedHeaderNames } from './http-headers.js';
import { builtInSignatureHeaderNames, isKnownProfile, profileHeaderNames, resolveProfile, signsTimestamp, type SignatureProfile, type SignatureSettings } from './signing.js';

/**
 * Endpoints: where a tenant's events go, how they are signed and wrapped, and how hard Herald tries.
 * Secrets and custom header values are stored encrypted (AES-256-GCM, see crypto.ts); this module is
 * the only place that reads or writes those columns, for the API and the delivery activities alike.
 */

/** What an endpoint is configured with, in the units Herald works in (ms, parsed settings). */
export interface EndpointSettings {
  url: string;
  description: string;
  event_types: string[];
  active: boolean;
  headers: Record<string, string>;
  signature: SignatureSettings;
  envelope: EnvelopeKind;
  /** When set, deliveries send this template rendered over the envelope's fields instead of the envelope. */
  template: EndpointTemplate | null;
  retry_schedule: RetrySchedule;
  timeout_ms: number;
  disable_after_failures: number;
  disable_after_ms: number | null;
  rate_limit: { per_second: number } | null;
}

export interface EndpointRecord extends EndpointSettings {
  id: string;
  tenant_id: string;
  /** The current signing secret, decrypted. */
  secret: string;
  disabled_reason: string | null;
  disabled_at: Date | null;
  /** When it was last enabled again after a deactivation (null if never). */
  enabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** What a delivery needs to send one request, secrets decrypted. */
export interface EndpointForDelivery
  extends Omit<EndpointSettings, 'description' | 'rate_limit'>,
    Pick<EndpointRecord, 'id' | 'tenant_id' | 'disabled_reason' | 'enabled_at'> {
  deleted: boolean;
  /** The tenant's name, for the health workflow's summary. */
  tenant_name: string;
  /** Secrets that may sign, newest first: the current one, then rotated ones still in their grace period. */
  secrets: string[];
}

/**
 * Headers a custom header may not set: HTTP's and Herald's own (protectedHeaderNames, which the request schemas
 * refuse already, for signature header names too) and every built-in profile's signature headers.
 */
const reservedHeaderNames = [...protectedHeaderNames, ...builtInSignatureHeaderNames];

export interface EndpointWarning {
  code: 'timestamp_not_signed';
  message: string;
}

/**
 * What an endpoint's receiver should know about its settings, though they are allowed: an empty list when
 * nothing. A profile that signs no timestamp (timestamped-body, body-hex) is what those vendors do, but a
 * receiver's staleness check cannot catch a replay there.
 */
export function endpointWarnings(signature: SignatureSettings, extraProfiles?: Record<string, SignatureProfile>): EndpointWarning[] {
  let profile: SignatureProfile;
  try {
    profile = resolveProfile(signature, extraProfiles);
  } catch {
    return []; // a profile removed from the configuration since; nothing to say about its signature
  }
  if (!profile.signature || signsTimestamp(profile)) return [];
  return [
    {
      code: 'timestamp_not_signed',
      message: `the ${signature.profile} profile does not sign the delivery's timestamp, so a receiver's staleness check cannot refuse a replayed delivery; receivers should deduplicate on the delivery id in the body`,
    },
  ];
}

/**
 * Everything about an endpoint's settings that needs the catalog or the configuration: an empty list
 * when the endpoint may be saved. Fields are named like the request's (`body.url`, `body.headers.Host`).
 */
export async function endpointRuleIssues(
  sql: Sql,
  settings: EndpointSettings,
  options: {
    allowHttp: boolean;
    /** The deployment's own profiles (HERALD_SIGNATURE_PROFILES). */ extraProfiles?: Record<string, SignatureProfile>;
    /** Checks the URL's host (literal or resolved) against the address policy. */ urlPolicy?: UrlPolicy;
  },
): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = templateIssues(settings.template);
  const problem = destinationUrlIssue(settings.url, { allowHttp: options.allowHttp });
  if (problem) issues.push({ field: 'body.url', message: problem, code: 'invalid_url' });
  const blocked = !problem && options.urlPolicy ? await options.urlPolicy.hostIssue(new URL(settings.url).hostname) : undefined;
  if (blocked) issues.push({ field: 'body.url', message: blocked, code: 'blocked_address' });

  settings.event_types.forEach((name, index) => {
    if (name === testEventType) {
      issues.push({ field: `body.event_types.${index}`, message: `${testEventType} is sent by the test action and cannot be subscribed to`, code: 'not_subscribable' });
    }
  });
  const unknown = new Set(await unknownEventTypes(sql, settings.event_types));
  settings.event_types.forEach((name, index) => {
    if (unknown.has(name)) issues.push({ field: `body.event_types.${index}`, message: `"${name}" is not in the event catalog`, code: 'unknown_event_type' });
  });

  let profileHeaders: string[] = [];
  if (!isKnownProfile(settings.signature.profile, options.extraProfiles)) {
    issues.push({ field: 'body.signature.profile', message: `unknown signature profile "${settings.signature.profile}"`, code: 'unknown_profile' });
  } else {
    try {
      profileHeaders = profileHeaderNames(resolveProfile(settings.signature, options.extraProfiles));
    } catch (error) {
      issues.push({ field: 'body.signature.headers', message: (error as Error).message, code: 'invalid_signature_settings' });
    }
  }
  const reserved = new Set([...reservedHeaderNames, ...profileHeaders.map((name) => name.toLowerCase())]);
  for (const name of Object.keys(settings.headers)) {
    if (reserved.has(name.toLowerCase()) || protectedHeaderIssue(name)) {
      issues.push({ field: `body.headers.${name}`, message: `${name} is set by Herald and cannot be overridden`, code: 'reserved_header' });
    }
  }
  return issues;
}

const columns = (sql: Sql) => sql`
  e.id, e.tenant_id, e.url, e.description, e.event_types, e.active, e.headers_ciphertext, e.signature, e.envelope, e.template,
  e.retry_schedule, e.timeout_ms, e.disable_after_failures, e.disable_after_ms, e.rate_limit, e.disabled_reason,
  e.disabled_at, e.enabled_at, e.created_at, e.updated_at, e.deleted_at,
  (select s.ciphertext from endpoint_secrets s where s.endpoint_id = e.id and s.expires_at is null
    order by s.created_at desc, s.id desc limit 1) as secret_ciphertext`;

interface EndpointRow extends Omit<EndpointRecord, 'headers' | 'secret' | 'disable_after_ms'> {
  headers_ciphertext: Buffer | null;
  secret_ciphertext: Buffer | null;
  disable_after_ms: bigint | number | null;
  deleted_at: Date | null;
}

function decryptHeaders(box: SecretBox, stored: Buffer | null): Record<string, string> {
  return stored ? (JSON.parse(box.decrypt(stored)) as Record<string, string>) : {};
}

function encryptHeaders(box: SecretBox, headers: Record<string, string>): Buffer | null {
  return Object.keys(headers).length > 0 ? box.encrypt(JSON.stringify(headers)) : null;
}

function toRecord(row: EndpointRow, box: SecretBox): EndpointRecord {
  const { headers_ciphertext, secret_ciphertext, deleted_at: _deleted, ...rest } = row;
  return {
    ...rest,
    disable_after_ms: row.disable_after_ms === null ? null : Number(row.disable_after_ms),
    headers: decryptHeaders(box, headers_ciphertext),
    secret: secret_ciphertext ? box.decrypt(secret_ciphertext) : '',
  };
}

async function insertSecret(sql: Sql, box: SecretBox, endpointId: string, secret: string): Promise<void> {
  await sql`insert into endpoint_secrets (id, endpoint_id, ciphertext, last_four) values (${newId('secret')}, ${endpointId}, ${box.encrypt(secret)}, ${secret.slice(-4)})`;
}

export async function getEndpoint(sql: Sql, box: SecretBox, tenantId: string, endpointId: string): Promise<EndpointRecord | undefined> {
  const [row] = await sql<EndpointRow[]>`select ${columns(sql)} from endpoints e where e.tenant_id = ${tenantId} and e.id = ${endpointId} and e.deleted_at is null`;
  return row && toRecord(row, box);
}

/** Up to `limit` endpoints of a tenant after `cursor` (an endpoint id), in id order. */
export async function listEndpoints(sql: Sql, box: SecretBox, tenantId: string, page: { limit: number; cursor?: string; active?: boolean }): Promise<EndpointRecord[]> {
  const rows = await sql<EndpointRow[]>`
    select ${columns(sql)} from endpoints e
    where e.tenant_id = ${tenantId} and e.deleted_at is null ${page.cursor ? sql`and e.id > ${page.cursor}` : sql``}
      ${page.active === undefined ? sql`` : sql`and e.active = ${page.active}`}
    order by e.id limit ${page.limit}`;
  return rows.map((row) => toRecord(row, box));
}

/** Creates an endpoint and its first secret; LimitReached when the tenant already has `max_endpoints` endpoints. */
export async function createEndpoint(sql: Sql, box: SecretBox, tenantId: string, settings: EndpointSettings, secret: string): Promise<EndpointRecord> {
  const id = newId('endpoint');
  await sql.begin(async (transaction) => {
    const tx = transaction as unknown as Sql;
    // The tenant row lock serialises concurrent creations, so the count below cannot go stale.
    const [tenant] = await tx<{ max_endpoints: number }[]>`select max_endpoints from tenants where id = ${tenantId} for update`;
    const [{ count }] = await tx<{ count: number }[]>`select count(*)::int as count from endpoints where tenant_id = ${tenantId} and deleted_at is null`;
    if (!tenant || count >= tenant.max_endpoints) {
      throw new LimitReached(`This tenant has reached its limit of ${tenant?.max_endpoints ?? 0} endpoints`, { max_endpoints: tenant?.max_endpoints ?? 0 });
    }
    await tx`
      insert into endpoints (id, tenant_id, url, description, event_types, active, headers_ciphertext, signature, envelope, template, retry_schedule,
                             timeout_ms, disable_after_failures, disable_after_ms, rate_limit, disabled_reason, disabled_at)
      values (${id}, ${tenantId}, ${settings.url}, ${settings.description}, ${settings.event_types}::text[], ${settings.active},
              ${encryptHeaders(box, settings.headers)}, ${tx.json(settings.signature as never)}, ${settings.envelope},
              ${settings.template === null ? null : tx.json(settings.template as never)},
              ${tx.json(settings.retry_schedule as never)}, ${settings.timeout_ms}, ${settings.disable_after_failures},
              ${settings.disable_after_ms}, ${settings.rate_limit === null ? null : tx.json(settings.rate_limit)},
              ${settings.active ? null : 'manual'}, ${settings.active ? null : new Date()})`;
    await insertSecret(tx, box, id, secret);
  });
  return (await getEndpoint(sql, box, tenantId, id))!;
}

/**
 * Replaces the settings of an endpoint (the caller merges a PATCH into the current settings first), all but `active`:
 * activation changes go through src/core/endpoint-activation.ts, which also tells the health workflow and the tenant.
 */
export async function updateEndpoint(sql: Sql, box: SecretBox, tenantId: string, endpointId: string, settings: EndpointSettings): Promise<EndpointRecord | undefined> {
  const updated = await sql`
    update endpoints set
      url = ${settings.url}, description = ${settings.description}, event_types = ${settings.event_types}::text[],
      headers_ciphertext = ${encryptHeaders(box, settings.headers)}, signature = ${sql.json(settings.signature as never)},
      envelope = ${settings.envelope}, template = ${settings.template === null ? null : sql.json(settings.template as never)}, retry_schedule = ${sql.json(settings.retry_schedule as never)}, timeout_ms = ${settings.timeout_ms},
      disable_after_failures = ${settings.disable_after_failures}, disable_after_ms = ${settings.disable_after_ms},
      rate_limit = ${settings.rate_limit === null ? null : sql.json(settings.rate_limit)},
      updated_at = now()
    where tenant_id = ${tenantId} and id = ${endpointId} and deleted_at is null`;
  return updated.count === 0 ? undefined : getEndpoint(sql, box, tenantId, endpointId);
}

/** Soft delete: the endpoint leaves the API and fan-out, its deliveries and attempts stay. */
export async function deleteEndpoint(sql: Sql, tenantId: string, endpointId: string): Promise<boolean> {
  const deleted = await sql`update endpoints set deleted_at = now(), updated_at = now() where tenant_id = ${tenantId} and id = ${endpointId} and deleted_at is null`;
  return deleted.count > 0;
}

/**
 * Makes `secret` the endpoint's current secret. The one it replaces keeps signing until now + graceMs;
 * secrets rotated out earlier keep their own expiry, so rotating twice within a grace period leaves all
 * three valid until each one's end. Returns when the replaced secret expires, or undefined if no endpoint.
 */
export async function rotateEndpointSecret(
  sql: Sql,
  box: SecretBox,
  tenantId: string,
  endpointId: string,
  secret: string,
  graceMs: number,
): Promise<{ previous_secret_expires_at: Date } | undefined> {
  return sql.begin(async (transaction) => {
    const tx = transaction as unknown as Sql;
    const [endpoint] = await tx`select id from endpoints where tenant_id = ${tenantId} and id = ${endpointId} and deleted_at is null for update`;
    if (!endpoint) return undefined;
    const [{ expires_at }] = await tx<{ expires_at: Date }[]>`select now() + make_interval(secs => ${graceMs / 1000}) as expires_at`;
    await tx`update endpoint_secrets set expires_at = ${expires_at} where endpoint_id = ${endpointId} and expires_at is null`;
    await insertSecret(tx, box, endpointId, secret);
    await tx`update endpoints set updated_at = now() where id = ${endpointId}`;
    return { previous_secret_expires_at: expires_at };
  });
}

export interface ActivationRow {
  /** Whether this call flipped the endpoint. */
  changed: boolean;
  active: boolean;
  disabled_reason: string | null;
  /** When the current deactivation began (null while active). */
  disabled_at: Date | null;
  /** When the endpoint was last enabled again after a deactivation (null if it never was). */
  enabled_at: Date | null;
  /** For the health workflow's summary. */
  url: string;
  tenant_name: string;
}

/**
 * The row of an endpoint's activation: used only by src/core/endpoint-activation.ts, which also tells the health
 * workflow and sends the notice. Disabling records `reason` (default "manual") and the time, and keeps the first
 * reason and time while it stays disabled; enabling clears both and stamps `enabled_at` when it flips.
 */
export async function writeEndpointActivation(
  sql: Sql,
  tenantId: string,
  endpointId: string,
  active: boolean,
  reason?: string,
): Promise<ActivationRow | undefined> {
  const [row] = await sql<(Omit<ActivationRow, 'changed'> & { was_active: boolean })[]>`
    update endpoints e set
      active = ${active},
      disabled_reason = ${active ? null : sql`case when old.active then ${reason ?? 'manual'} else coalesce(old.disabled_reason, ${reason ?? 'manual'}) end`},
      disabled_at = ${active ? null : sql`coalesce(case when old.active then null else old.disabled_at end, now())`},
      enabled_at = ${active ? sql`case when old.active then old.enabled_at else now() end` : sql`old.enabled_at`},
      updated_at = now()
    from endpoints old
    where e.id = old.id and e.tenant_id = ${tenantId} and e.id = ${endpointId} and e.deleted_at is null
    returning old.active as was_active, e.active, e.disabled_reason, e.disabled_at, e.enabled_at, e.url,
              (select t.name from tenants t where t.id = e.tenant_id) as tenant_name`;
  if (!row) return undefined;
  const { was_active: wasActive, ...state } = row;
  return { changed: wasActive !== active, ...state };
}

/**
 * Everything a delivery attempt needs, deleted endpoints included (`deleted: true`) so that a workflow
 * can tell "gone" from "never existed" (undefined).
 */
export async function loadEndpointForDelivery(sql: Sql, box: SecretBox, endpointId: string): Promise<EndpointForDelivery | undefined> {
  const [row] = await sql<(EndpointRow & { tenant_name: string })[]>`
    select ${columns(sql)}, (select t.name from tenants t where t.id = e.tenant_id) as tenant_name from endpoints e where e.id = ${endpointId}`;
  if (!row) return undefined;
  const secrets = await sql<{ ciphertext: Buffer }[]>`
    select ciphertext from endpoint_secrets
    where endpoint_id = ${endpointId} and (expires_at is null or expires_at > now())
    order by expires_at is null desc, created_at desc, id desc`;
  const record = toRecord(row, box);
  return {
    id: record.id,
    tenant_id: record.tenant_id,
    url: record.url,
    active: record.active,
    deleted: row.deleted_at !== null,
    tenant_name: row.tenant_name,
    event_types: record.event_types,
    headers: record.headers,
    secrets: secrets.map((secret) => box.decrypt(secret.ciphertext)),
    signature: record.signature,
    envelope: record.envelope,
    template: record.template,
    retry_schedule: record.retry_schedule,
    timeout_ms: record.timeout_ms,
    disable_after_failures: record.disable_after_failures,
    disable_after_ms: record.disable_after_ms,
    disabled_reason: record.disabled_reason,
    enabled_at: record.enabled_at,
  };
}

export interface SubscribedEndpoint {
  id: string;
  active: boolean;
  retry_schedule: RetrySchedule;
  /** For the summaries of the delivery workflows (src/core/workflow-summaries.ts). */
  url: string;
  tenant_name: string;
}

/**
 * The subscription rule, in one query: the tenant's endpoints (not deleted) that name `eventType` or `*`, in id order.
 * Publish takes disabled ones too (their deliveries are recorded as failed, to replay later); replay takes active ones.
 */
export async function subscribedEndpoints(
  sql: Sql,
  input: { tenantId: string; eventType: string; activeOnly?: boolean; excludeEndpointIds?: string[] },
): Promise<SubscribedEndpoint[]> {
  return sql<SubscribedEndpoint[]>`
    select id, active, retry_schedule, url, (select name from tenants where id = endpoints.tenant_id) as tenant_name from endpoints
    where tenant_id = ${input.tenantId} and deleted_at is null
      and event_types && ${[input.eventType, allEventTypes]}::text[]
      ${input.activeOnly ? sql`and active` : sql``}
      ${input.excludeEndpointIds?.length ? sql`and id <> all(${input.excludeEndpointIds}::text[])` : sql``}
    order by id`;
}
