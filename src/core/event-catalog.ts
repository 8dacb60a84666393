import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Sql } from '../db/client.js';
import { Invalid, NotFound } from './errors.js';

/**
 * The event catalog: global, versioned event types (`v1.case.completed`) with a JSON Schema for `data`.
 * Schemas are compiled once with ajv and cached per event type until the type's updated_at changes.
 */

/** `v<major>.` then one or more dot-separated lower-case segments: `v1.case.completed`, `v2.intake.session_created`. */
export const eventTypeNamePattern = /^v\d+(\.[a-z0-9_]+)+$/;
export const eventTypeNameMessage = 'must be a versioned, dotted lower-case name such as v1.case.completed';
export const maxEventTypeNameLength = 128;

/** The wildcard subscription: every type of the catalog. */
export const allEventTypes = '*';

/** Synthetic types Herald sends itself; `v1.webhook.test` is never a subscription. */
export const testEventType = 'v1.webhook.test';

export interface EventTypeRow {
  name: string;
  description: string;
  schema: Record<string, unknown> | null;
  /** Still published and delivered, but on its way out; `deprecated_at` says since when. */
  deprecated: boolean;
  deprecated_at: Date | null;
  operational: boolean;
  created_at: Date;
  updated_at: Date;
}

/** `v1` of `v1.case.completed`: the schema version events of this type carry. */
export function schemaVersionOf(eventType: string): string {
  return eventType.slice(0, eventType.indexOf('.'));
}

function newAjv<T extends Ajv | Ajv2020>(instance: T): T {
  addFormats.default(instance);
  return instance;
}

// strictSchema rejects unknown keywords (typos such as "requird"); the type checks it would log are off.
const ajvOptions = { allErrors: true, strictSchema: true, strictTypes: false, strictTuples: false, strictRequired: false, validateFormats: true } as const;
const ajvDraft7 = newAjv(new Ajv(ajvOptions));
const ajv2020 = newAjv(new Ajv2020(ajvOptions));

function ajvFor(schema: Record<string, unknown>): Ajv | Ajv2020 {
  return typeof schema.$schema === 'string' && schema.$schema.includes('2020-12') ? ajv2020 : ajvDraft7;
}

/** Compiles a JSON Schema or throws Invalid naming `field` (e.g. `body.schema`) with what is wrong. */
export function compileEventSchema(schema: Record<string, unknown>, field = 'body.schema'): ValidateFunction {
  try {
    // Nothing is added to the instance: $id-bearing schemas would otherwise collide on recompilation.
    const { $id: _id, ...withoutId } = schema;
    const ajv = ajvFor(schema);
    const validate = ajv.compile(withoutId);
    ajv.removeSchema(withoutId); // the compiled function keeps what it needs; ajv's cache would only grow
    return validate;
  } catch (error) {
    throw Invalid.field(field, `not a valid JSON Schema: ${(error as Error).message}`, 'invalid_json_schema');
  }
}

const cache = new Map<string, { updatedAt: number; validate: ValidateFunction | null }>();

function cachedValidator(row: EventTypeRow): ValidateFunction | null {
  const updatedAt = row.updated_at.getTime();
  const hit = cache.get(row.name);
  if (hit && hit.updatedAt === updatedAt) return hit.validate;
  const validate = row.schema ? compileEventSchema(row.schema, `event_types.${row.name}.schema`) : null;
  cache.set(row.name, { updatedAt, validate });
  return validate;
}

/** Forgets the compiled schema of a type (the cache also notices a newer updated_at by itself). */
export function forgetEventSchema(name: string): void {
  cache.delete(name);
}

function ajvIssues(errors: ErrorObject[], field: string) {
  return errors.map((error) => {
    const pointer = error.instancePath.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
    const missing = error.keyword === 'required' ? [String((error.params as { missingProperty: string }).missingProperty)] : [];
    const extra = error.keyword === 'additionalProperties' ? [String((error.params as { additionalProperty: string }).additionalProperty)] : [];
    return { field: [field, ...pointer, ...missing, ...extra].join('.'), message: error.message ?? 'is invalid', code: error.keyword };
  });
}

/** The columns of an EventTypeRow. */
export const eventTypeColumns = 'name, description, schema, deprecated, deprecated_at, operational, created_at, updated_at';

export async function findEventType(sql: Sql, name: string): Promise<EventTypeRow | undefined> {
  const [row] = await sql<EventTypeRow[]>`select ${sql.unsafe(eventTypeColumns)} from event_types where name = ${name}`;
  return row;
}

/**
 * Checks `data` against the schema of `eventTypeName` and returns the event type. Throws Invalid when the
 * type is not in the catalog or the data violates its schema (one issue per violation, `field` like
 * `body.data.case_status`).
 */
export async function validateEventData(sql: Sql, eventTypeName: string, data: unknown, options: { field?: string; typeField?: string } = {}): Promise<EventTypeRow> {
  const field = options.field ?? 'body.data';
  const typeField = options.typeField ?? 'body.event_type';
  const row = await findEventType(sql, eventTypeName);
  if (!row) throw Invalid.field(typeField, `"${eventTypeName}" is not in the event catalog`, 'unknown_event_type');
  const validate = cachedValidator(row);
  if (validate && !validate(data)) throw new Invalid(ajvIssues(validate.errors ?? [], field));
  return row;
}

/** Event types that a subscription names but the catalog lacks (the wildcard is always known). */
export async function unknownEventTypes(sql: Sql, names: string[]): Promise<string[]> {
  const wanted = [...new Set(names.filter((name) => name !== allEventTypes))];
  if (wanted.length === 0) return [];
  const found = await sql<{ name: string }[]>`select name from event_types where name = any(${sql.array(wanted)}::text[])`;
  const known = new Set(found.map((row) => row.name));
  return wanted.filter((name) => !known.has(name));
}

export async function requireEventType(sql: Sql, name: string): Promise<EventTypeRow> {
  const row = await findEventType(sql, name);
  if (!row) throw new NotFound(`Event type ${name}`);
  return row;
}
