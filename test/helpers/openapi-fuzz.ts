import fc from 'fast-check';
import { Pool } from 'undici';
import type { OpenApiDocument } from '../../src/api/openapi.js';

/**
 * Requests generated from the OpenAPI document: for every operation, parameters and bodies that follow
 * the schemas (so handlers are reached), mutated ones (wrong types, nulls, extra fields, huge and
 * unicode strings), malformed JSON, wrong content types and bad credentials.
 */
export interface FuzzRequest {
  operation: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzContext {
  /** Real ids by path-parameter name (tenant_id, endpoint_id…), mixed with generated ones. */
  ids: Record<string, string[]>;
  /** Bearer keys that work (admin, tenants); garbage ones are generated. */
  keys: string[];
}

type Schema = Record<string, any>;

const huge = fc.integer({ min: 1000, max: 300_000 }).map((length) => 'x'.repeat(length));
/** Long, but within Node's 16 KB header limit, so the request reaches Herald rather than Node's parser. */
const long = fc.integer({ min: 200, max: 600 }).map((length) => 'é'.repeat(length));
const unicode = fc.string({ unit: 'grapheme', maxLength: 40 });
const nasty = fc.constantFrom('', ' ', '\u0000', '%00', '../..', '%2e%2e%2f', '\u202e', '😀'.repeat(50), 'null', '-1', '1e309', 'NaN', '<script>', "' or 1=1 --", '\\', '{}', '[]', '\ud800', 'a\udc00b');
const paramString = fc.oneof(fc.string({ maxLength: 30 }), unicode, nasty, long);
const anyString = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 30 }) }, unicode, nasty, { weight: 1, arbitrary: huge });
/** Anything JSON, with big and odd numbers too. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, '', [], {}),
  anyString,
);
const destinationUrls = fc.constantFrom(
  'http://127.0.0.1:9/hook',
  'https://receiver.invalid/hook',
  'http://169.254.169.254/latest/meta-data',
  'http://[::1]:9/x',
  'ftp://example.invalid/',
  'http://user:pass@receiver.invalid/',
  'https://receiver.invalid:99999/',
  'not a url',
);

/** Percent-encoded; a lone surrogate (which encodeURIComponent refuses) as the bytes a careless client would send. */
function encodePathValue(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return encodeURIComponent(value.replace(/[\uD800-\uDFFF]/g, 'x')) + '%ED%A0%80';
  }
}

/** fc.oneof over the entries whose weight is not 0. */
function weighted<T>(entries: [number, fc.Arbitrary<T>][]): fc.Arbitrary<T> {
  return fc.oneof(...entries.filter(([weight]) => weight > 0).map(([weight, arbitrary]) => ({ weight, arbitrary })));
}

export function createFuzzer(document: OpenApiDocument, context: FuzzContext) {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const resolve = (schema: Schema | undefined): Schema => {
    let current = schema ?? {};
    for (let hops = 0; typeof current.$ref === 'string' && hops < 10; hops++) current = schemas[current.$ref.split('/').pop()!] ?? {};
    return current;
  };

  /** Values that satisfy the schema where that is easy: enums, bounds, required properties. */
  const valid = (input: Schema | undefined, depth = 0, name = ''): fc.Arbitrary<unknown> => {
    const schema = resolve(input);
    if (depth > 4) return fc.constant(null);
    if ('const' in schema) return fc.constant(schema.const);
    if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
    const variants = schema.anyOf ?? schema.oneOf;
    if (Array.isArray(variants) && variants.length) return fc.oneof(...variants.map((variant: Schema) => valid(variant, depth + 1, name)));
    if (Array.isArray(schema.allOf) && schema.allOf.length) return valid(schema.allOf[0], depth + 1, name);
    const type = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    if (type.length > 1) return fc.oneof(...type.map((one: string) => valid({ ...schema, type: one }, depth, name)));
    if (name in context.ids) return fc.constantFrom(...context.ids[name]!);
    switch (type[0]) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'integer':
        return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? Math.max(1000, schema.minimum ?? 0) });
      case 'number':
        return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
      case 'string':
        if (name === 'url' || schema.format === 'uri') return destinationUrls;
        if (schema.format === 'date-time') return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((date) => date.toISOString());
        if (name === 'event_type' || name === 'name') return fc.constantFrom(...(context.ids.name ?? ['v1.fuzz.tick']), 'v1.fuzz.other', 'V1..bad');
        if (/duration|timeout|grace|disable_after|initial|max/.test(name) || schema.example?.match?.(/^\d+(ms|s|m|h|d)$/)) return fc.constantFrom('1s', '5s', '250ms', '2h', '3d', '0s', '10x');
        return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 20, 20) });
      case 'array':
        return fc.array(valid(schema.items, depth + 1, name), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
      case 'object': {
        const properties = (schema.properties ?? {}) as Record<string, Schema>;
        const shape = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, valid(value, depth + 1, key)]));
        const record = fc.record(shape, { requiredKeys: (schema.required ?? []).filter((key: string) => key in shape) });
        if (Object.keys(properties).length === 0 && schema.additionalProperties) return fc.dictionary(fc.string({ maxLength: 10 }), valid(schema.additionalProperties, depth + 1), { maxKeys: 3 });
        return record;
      }
      default:
        return anyJson;
    }
  };

  /** A valid value with one thing wrong: a field nulled, retyped, hugely long, or an unknown field added. */
  const mutated = (schema: Schema | undefined): fc.Arbitrary<unknown> =>
    fc.tuple(valid(schema), fc.nat(), anyJson, fc.string({ maxLength: 12 })).map(([value, pick, replacement, extraKey]) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return replacement;
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      const keys = Object.keys(copy);
      if (keys.length === 0 || pick % 3 === 0) copy[extraKey || 'extra'] = replacement;
      else copy[keys[pick % keys.length]!] = pick % 3 === 1 ? null : replacement;
      return copy;
    });

  const param = (parameter: Schema): fc.Arbitrary<string | undefined> =>
    weighted([
      [6, valid(parameter.schema, 0, parameter.name).map((value) => (typeof value === 'string' ? value : JSON.stringify(value)))],
      [2, paramString],
      [parameter.required ? 0 : 2, fc.constant(undefined)],
    ]);

  const bearer = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...context.keys).map((key) => `Bearer ${key}`) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer sk_nope', `Bearer ${context.keys[0]} extra`, `Bearer ${'k'.repeat(3000)}`) },
    { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 }).map((text) => `Bearer ${text}`) },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/jsonx', '') },
  );
  const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 300 });

  const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Schema>)
      .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
      .map(([method, operation]) => ({ path, method, operation })),
  );

  const forOperation = ({ path, method, operation }: (typeof operations)[number]): fc.Arbitrary<FuzzRequest> => {
    const parameters = (operation.parameters ?? []) as Schema[];
    const pathParameters = parameters.filter((parameter) => parameter.in === 'path');
    const queryParameters = parameters.filter((parameter) => parameter.in === 'query');
    const bodySchema = operation.requestBody?.content?.['application/json']?.schema as Schema | undefined;
    const body: fc.Arbitrary<string | undefined> = weighted([
      [bodySchema ? 5 : 0, valid(bodySchema).map((value) => JSON.stringify(value))],
      [bodySchema ? 4 : 0, mutated(bodySchema).map((value) => JSON.stringify(value) ?? 'null')],
      [1, anyJson.map((value) => JSON.stringify(value) ?? 'null')],
      [1, fc.constantFrom('{', '{"a":', '[1,2', 'nul', '{"a":1}}', '\u0000', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"x": 1}}}', ' ')],
      [bodySchema ? 1 : 3, fc.constant(undefined)],
      [1, fc.constant(undefined).map(() => JSON.stringify({ data: 'y'.repeat(300_000) }))],
    ]);
    return fc
      .record({
        pathValues: fc.tuple(...pathParameters.map(param)),
        queryValues: fc.tuple(...queryParameters.map(param)),
        extraQuery: fc.option(fc.tuple(fc.string({ maxLength: 8 }), paramString), { freq: 5 }),
        authorization: fc.option(bearer, { freq: 12 }),
        contentType,
        idempotencyKey: fc.option(printable, { freq: 4 }),
        body,
      })
      .map(({ pathValues, queryValues, extraQuery, authorization, contentType: type, idempotencyKey, body: payload }) => {
        let url = path;
        pathParameters.forEach((parameter, index) => {
          url = url.replace(`{${parameter.name}}`, encodePathValue(pathValues[index] ?? ''));
        });
        const query = new URLSearchParams();
        queryParameters.forEach((parameter, index) => {
          if (queryValues[index] !== undefined) query.append(parameter.name, queryValues[index]!);
        });
        if (extraQuery) query.append(extraQuery[0], extraQuery[1]);
        const headers: Record<string, string> = {};
        if (authorization !== null) headers.authorization = authorization;
        if (payload !== undefined && type) headers['content-type'] = type;
        if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
        const search = query.toString();
        return { operation: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path: search ? `${url}?${search}` : url, headers, body: payload };
      });
  };

  /** Paths and methods that are not in the document at all. */
  const unknownRoute: fc.Arbitrary<FuzzRequest> = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
      path: fc.oneof(
        fc.constantFrom('/', '/v1', '/v1/', '/v2/tenants', '/v1/tenants/x/y/z', '/v1/tenants//endpoints', '/%', '/v1/%zz', '/v1/tenants/%E0%A4%A'),
        fc.string({ maxLength: 30 }).map((text) => `/v1/${encodeURIComponent(text)}`),
      ),
      authorization: bearer,
    })
    .map(({ method, path, authorization }) => ({ operation: 'unknown route', method, path, headers: { authorization } }));

  return {
    operations: operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`),
    /** Every operation equally likely, plus unknown routes. */
    request: fc.oneof(...operations.map(forOperation), unknownRoute),
  };
}

export interface FuzzOutcome {
  request: FuzzRequest;
  status: number;
  body: string;
  problem?: string;
}

/** Sends the requests (at most `concurrency` at once, each bounded by `timeoutMs`) and says what was wrong with each answer. */
export async function sendFuzzRequests(apiUrl: string, requests: FuzzRequest[], options: { concurrency: number; timeoutMs: number }): Promise<FuzzOutcome[]> {
  const pool = new Pool(apiUrl, { connections: options.concurrency });
  const outcomes: FuzzOutcome[] = [];
  let next = 0;
  const sendOne = async (request: FuzzRequest): Promise<FuzzOutcome> => {
    try {
      const response = await pool.request({
        method: request.method as 'GET',
        path: request.path,
        headers: request.headers,
        body: request.body,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      const body = await response.body.text();
      return { request, status: response.statusCode, body, problem: answerProblem(response.statusCode, body) };
    } catch (error) {
      return { request, status: 0, body: '', problem: `no answer: ${(error as Error).message}` };
    }
  };
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < requests.length) outcomes.push(await sendOne(requests[next++]!));
    }),
  );
  await pool.close();
  return outcomes;
}

/** 5xx is always wrong; a 4xx must be `{"error": {code, message, details}}`. */
export function answerProblem(status: number, body: string): string | undefined {
  if (status >= 500) return `answered ${status}`;
  if (status < 400) return undefined;
  try {
    const error = JSON.parse(body)?.error;
    if (typeof error?.code !== 'string' || typeof error?.message !== 'string' || !('details' in error)) return `${status} without the error shape`;
  } catch {
    return `${status} with a body that is not JSON`;
  }
  return undefined;
}
