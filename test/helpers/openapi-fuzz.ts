import fc from 'fast-check';
import { Pool } from 'undici';
import type { OpenApiDocument } from '../../src/api/openapi.js';

/**
 * Requests generated from the OpenAPI document: for every operation, parameters and bodies that follow
 * the schemas (so handlers are reached), mutated ones (wrong types, nulls, extra fields, huge and
 * unicode strings), malformed JSON, wrong content types and bad credentials. Besides those, targeted
 * classes that reach a known check with everything else right, and say what it must answer (`expect`):
 * deeply nested bodies (422 too_deep), out-of-range dates (422 naming the field), `herald:` idempotency
 * keys and Herald's operational event types on publish (422), protected or malformed header names in an
 * endpoint's `headers` and `signature.headers` (422).
 */
export interface FuzzRequest {
  operation: string;
  /** Which generator made it: `generated`, `unknown route`, or a targeted class (`deep body`, `date edge`…). */
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** What the answer must be, one of these (a targeted class); otherwise only the general invariant holds. */
  expect?: ExpectedAnswer[];
}

export interface ExpectedAnswer {
  status: number;
  /** The error code; any when absent. */
  code?: string;
  /** A field the error's details must name (`query.since`). */
  field?: string;
}

export interface FuzzContext {
  /** Real ids by path-parameter name (tenant_id, endpoint_id…), mixed with generated ones. */
  ids: Record<string, string[]>;
  /** Bearer keys that work (admin, tenants); garbage ones are generated. */
  keys: string[];
  /** The admin key: the targeted classes use it, so authorization never answers before the check they aim at. */
  adminKey: string;
  /**
   * Ids the targeted classes put in their paths (tenant_id, endpoint_id, event_id, delivery_id, name): ones the
   * generated requests are not given, so no generated DELETE or PATCH has removed or changed them. Falls back to
   * the first of `ids`.
   */
  stable?: Record<string, string>;
  /** HERALD_MAX_JSON_DEPTH of the API under test (default 64): deep bodies nest deeper than this. */
  maxJsonDepth?: number;
}

/** The targeted classes, by `kind`. */
export const targetedKinds = ['deep body', 'date edge', 'idempotency key', 'header names', 'operational event type'] as const;

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
/**
 * Dates no API may accept: beyond JavaScript's range ends, year 0, five-digit years, days that do not exist,
 * out-of-range fields, before 1970, and not dates at all.
 */
export const badDates = [
  '-271821-04-20T00:00:00Z',
  '+275760-09-13T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-000001-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '1969-12-31T23:59:59Z',
  '10000-01-01',
  '10000-01-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2025-02-29',
  '2026-13-01T00:00:00Z',
  '2026-00-10',
  '2026-04-31',
  '2026-05-01T24:00:00Z',
  '2026-05-01T12:60:00Z',
  '2026-05-01T23:59:60Z',
  '2026-05-01T12:00:00+25:00',
  '9999-12-31T23:59:59-01:00',
  '',
  ' ',
  'now',
  'yesterday',
  '2026',
  '1714000000000',
  '1e309',
  'NaN',
  'Infinity',
  '2026-05-01T12:00:00ZZ',
  '2026-05-01\u0000',
];
/** Dates that are fine, to mix with the bad ones. */
const goodDates = fc.oneof(
  fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-05-01', '2026-05-01T12:00', '2024-02-29T00:00:00+02:00'),
);
const anyDate = fc.oneof({ weight: 3, arbitrary: goodDates }, { weight: 2, arbitrary: fc.constantFrom(...badDates) });
/** For fields that take a date or a duration ago (a recovery's since/until). */
const dateOrAgo = fc.oneof(anyDate, fc.constantFrom('2h', '30m', '7d', '0s', '99999999999d', '1e9d', '-1h', '2h ago'));

/**
 * A JSON text nested `depth` levels deep: arrays, objects, both mixed, or deep inside an otherwise plausible
 * body. Object nesting costs 6 bytes a level, so its depth is capped to keep the body under 256 KB (413 beyond
 * would be another answer than the one this class checks).
 */
export const deepJson = (minDepth: number, maxDepth = 100_000): fc.Arbitrary<string> =>
  fc.tuple(fc.integer({ min: minDepth, max: maxDepth }), fc.constantFrom('arrays', 'objects', 'mixed', 'in data', 'wide then deep')).map(([depth, shape]) => {
    const objectDepth = Math.min(depth, 40_000);
    switch (shape) {
      case 'arrays':
        return '['.repeat(depth) + ']'.repeat(depth);
      case 'objects':
        return '{"a":'.repeat(objectDepth) + '1' + '}'.repeat(objectDepth);
      case 'mixed':
        return '[{"a":'.repeat(Math.ceil(objectDepth / 2)) + 'null' + '}]'.repeat(Math.ceil(objectDepth / 2));
      case 'in data':
        return `{"event_type":"v1.fuzz.tick","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      default:
        return `{"name":"x","url":"http://127.0.0.1:9/","list":[${'1,'.repeat(1000)}1],"deep":${'{"b":'.repeat(objectDepth)}"\\"}}"${'}'.repeat(objectDepth)}}`;
    }
  });

/** Header names Herald must never send on a customer's say: framing, hop-by-hop, and ones that would split a header. */
export const badHeaderNames = [
  'Host',
  'host',
  'Content-Length',
  'content-length',
  'Transfer-Encoding',
  'Content-Type',
  'Connection',
  'Keep-Alive',
  'Upgrade',
  'TE',
  'Trailer',
  'Expect',
  'User-Agent',
  'Proxy-Authorization',
  'X-A\r\nB',
  'X-A\nB',
  'X-A\rB',
  'X-A: b',
  'X A',
  '',
  'X-\u0000',
  'Ünïcode',
  'x'.repeat(101),
];

/** The event types Herald publishes itself; a tenant may not. */
export const operationalEventTypes = ['v1.webhook.delivery_failed', 'v1.endpoint.disabled', 'v1.endpoint.enabled', 'v1.endpoint.recovery_finished', 'v1.webhook.test'];

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
  const maxJsonDepth = context.maxJsonDepth ?? 64;
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
        if (schema.format === 'date-time') return anyDate;
        if (/^(since|until|before|after)$/.test(name)) return dateOrAgo;
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
      [1, deepJson(maxJsonDepth + 1)],
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
        return { operation: `${method.toUpperCase()} ${path}`, kind: 'generated', method: method.toUpperCase(), path: search ? `${url}?${search}` : url, headers, body: payload };
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
    .map(({ method, path, authorization }) => ({ operation: 'unknown route', kind: 'unknown route', method, path, headers: { authorization } }));

  // The targeted classes: the admin key, ids that exist, JSON; only the thing under test is wrong.
  const stableId = (name: string) => context.stable?.[name] ?? context.ids[name]?.[0] ?? 'x';
  const fillPath = (path: string) => path.replace(/\{([A-Za-z0-9_]+)\}/g, (_match, name: string) => encodeURIComponent(stableId(name)));
  const targeted = (kind: string, method: string, path: string, body: string | undefined, expect: ExpectedAnswer[], headers: Record<string, string> = {}): FuzzRequest => ({
    operation: `${method.toUpperCase()} ${path}`,
    kind,
    method: method.toUpperCase(),
    path: fillPath(path),
    headers: { authorization: `Bearer ${context.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body,
    expect,
  });
  const find = (method: string, path: string) => operations.find((operation) => operation.method === method && operation.path === path);

  /** (a) Bodies nested deeper than HERALD_MAX_JSON_DEPTH, to every route that takes a body: 422 too_deep. */
  const bodyOperations = operations.filter(({ operation }) => operation.requestBody?.content?.['application/json']);
  const deepBody: fc.Arbitrary<FuzzRequest> = fc.tuple(fc.constantFrom(...bodyOperations), deepJson(maxJsonDepth + 1)).map(([{ method, path, operation }, body]) => {
    const expect: ExpectedAnswer[] = [{ status: 422, code: 'too_deep' }];
    // Rate-limited routes may refuse before they read the body.
    if ((operation.responses as Record<string, unknown>)['429'] && path === '/v1/webhooks/test') expect.push({ status: 429, code: 'rate_limited' });
    return targeted('deep body', method, path, body, expect);
  });

  /** (b) Out-of-range and impossible dates in every query parameter that is a date: 422 naming the parameter. */
  const dateParameters = operations.flatMap(({ method, path, operation }) =>
    ((operation.parameters ?? []) as Schema[])
      .filter((parameter) => parameter.in === 'query' && resolve(parameter.schema).format === 'date-time')
      .map((parameter) => ({ method, path, name: parameter.name as string })),
  );
  const dateEdge: fc.Arbitrary<FuzzRequest> = fc.tuple(fc.constantFrom(...dateParameters), fc.constantFrom(...badDates)).map(([{ method, path, name }, value]) => {
    const request = targeted('date edge', method, path, undefined, [{ status: 422, code: 'validation_failed', field: `query.${name}` }]);
    return { ...request, path: `${request.path}?${new URLSearchParams({ [name]: value })}` };
  });

  const publish = find('post', '/v1/tenants/{tenant_id}/events');
  const publishBody = (eventType: string) => JSON.stringify({ event_type: eventType, data: { n: 1 } });

  /** (c) Idempotency keys in Herald's own namespace (`herald:…`, which Herald uses for the events it publishes): 422. */
  const heraldIdempotencyKey: fc.Arbitrary<FuzzRequest> = fc
    .tuple(fc.constantFrom('herald:', 'herald:delivery_failed:', 'herald:endpoint:', 'herald:x'), fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 }))
    .map(([prefix, rest]) => targeted('idempotency key', 'post', publish!.path, publishBody(stableId('name')), [{ status: 422 }], { 'idempotency-key': `${prefix}${rest}` }));

  /** (d) Protected and malformed header names in an endpoint's custom headers and its signature header names: 422. */
  const createEndpoint = find('post', '/v1/tenants/{tenant_id}/endpoints');
  const updateEndpoint = find('patch', '/v1/tenants/{tenant_id}/endpoints/{endpoint_id}');
  const headerNames: fc.Arbitrary<FuzzRequest> = fc
    .tuple(fc.constantFrom(...[createEndpoint, updateEndpoint].filter((operation) => operation !== undefined)), fc.constantFrom(...badHeaderNames), fc.constantFrom('headers', 'id', 'timestamp', 'signature'))
    .map(([{ method, path }, name, where]) => {
      const body: Record<string, unknown> = method === 'post' ? { url: 'http://127.0.0.1:9/hook', event_types: [stableId('name')] } : {};
      if (where === 'headers') body.headers = { [name]: 'value' };
      else body.signature = { profile: 'standard-webhooks', headers: { [where]: name } };
      return targeted('header names', method, path, JSON.stringify(body), [{ status: 422, code: 'validation_failed' }]);
    });

  /** (e) Herald's operational event types, published by a tenant: 422. */
  const operationalEventType: fc.Arbitrary<FuzzRequest> = fc
    .constantFrom(...operationalEventTypes)
    .map((eventType) => targeted('operational event type', 'post', publish!.path, publishBody(eventType), [{ status: 422 }]));

  const classes: { kind: string; weight: number; arbitrary: fc.Arbitrary<FuzzRequest> | undefined }[] = [
    { kind: 'deep body', weight: 2, arbitrary: bodyOperations.length ? deepBody : undefined },
    { kind: 'date edge', weight: 1, arbitrary: dateParameters.length ? dateEdge : undefined },
    { kind: 'idempotency key', weight: 1, arbitrary: publish ? heraldIdempotencyKey : undefined },
    { kind: 'header names', weight: 1, arbitrary: createEndpoint || updateEndpoint ? headerNames : undefined },
    { kind: 'operational event type', weight: 1, arbitrary: publish ? operationalEventType : undefined },
  ];
  const present = classes.filter((entry) => entry.arbitrary !== undefined);

  return {
    operations: operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`),
    /** The targeted classes this document has operations for. */
    targetedKinds: present.map((entry) => entry.kind),
    /**
     * Every operation equally likely, plus unknown routes; about one request in six is of a targeted class
     * (whose `expect` says what it must answer).
     */
    request: fc.oneof(
      { weight: 5, arbitrary: fc.oneof(...operations.map(forOperation), unknownRoute) },
      { weight: 1, arbitrary: fc.oneof(...present.map((entry) => ({ weight: entry.weight, arbitrary: entry.arbitrary! }))) },
    ),
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
      return { request, status: response.statusCode, body, problem: answerProblem(response.statusCode, body, request.expect) };
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

/**
 * 5xx is always wrong; a 4xx must be `{"error": {code, message, details}}`; a request of a targeted class must get
 * one of the answers it expects (status, error code, and the field its details name).
 */
export function answerProblem(status: number, body: string, expected?: ExpectedAnswer[]): string | undefined {
  if (status >= 500) return `answered ${status}`;
  let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
  if (status >= 400) {
    try {
      error = JSON.parse(body)?.error;
    } catch {
      return `${status} with a body that is not JSON`;
    }
    if (typeof error?.code !== 'string' || typeof error?.message !== 'string' || !('details' in error)) return `${status} without the error shape`;
    if (error.code === 'validation_failed') {
      const problem = validationShapeProblem(error);
      if (problem) return `${status} validation_failed ${problem}`;
    }
  }
  if (expected && !expected.some((answer) => matches(answer, status, error))) {
    return `answered ${status}${error ? ` ${String(error.code)}` : ''}, expected ${expected.map(describeAnswer).join(' or ')}`;
  }
  return undefined;
}

/**
 * Every 422 `validation_failed` is built one way: details list `{field, message, code}` and the message is the first
 * one's `<field>: <message>`.
 */
function validationShapeProblem(error: { message?: unknown; details?: unknown }): string | undefined {
  const details = error.details;
  if (!Array.isArray(details) || details.length === 0) return 'without details';
  const malformed = details.find((detail) => ['field', 'message', 'code'].some((key) => typeof detail?.[key] !== 'string') || Object.keys(detail).length !== 3);
  if (malformed) return `with a detail that is not {field, message, code}: ${JSON.stringify(malformed)}`;
  if (error.message !== `${details[0].field}: ${details[0].message}`) return `whose message is not "<field>: <message>" of its first detail: ${JSON.stringify(error.message)}`;
  return undefined;
}

function matches(answer: ExpectedAnswer, status: number, error: { code?: unknown; details?: unknown } | undefined): boolean {
  if (answer.status !== status) return false;
  if (answer.code !== undefined && error?.code !== answer.code) return false;
  if (answer.field !== undefined) {
    const fields = Array.isArray(error?.details) ? (error.details as { field?: unknown }[]).map((detail) => detail?.field) : [];
    if (!fields.includes(answer.field)) return false;
  }
  return true;
}

const describeAnswer = (answer: ExpectedAnswer) => [answer.status, answer.code, answer.field && `naming ${answer.field}`].filter(Boolean).join(' ');

/**
 * `total` requests in batches of `batchSize`, batch i sampled with seed `seed + i`: the same seed gives the same
 * requests, and a long run (the bench's 100,000) never holds more than one batch of bodies in memory.
 */
export function* fuzzRequestBatches(request: fc.Arbitrary<FuzzRequest>, options: { total: number; seed: number; batchSize: number }): Generator<FuzzRequest[]> {
  for (let index = 0, sent = 0; sent < options.total; index++) {
    const size = Math.min(options.batchSize, options.total - sent);
    yield fc.sample(request, { numRuns: size, seed: (options.seed + index) | 0 });
    sent += size;
  }
}

/** Counts of outcomes by kind and status, e.g. for a report: `{"generated": {"200": 812, "422": 3120}, …}`. */
export function summarizeOutcomes(outcomes: FuzzOutcome[]): Record<string, Record<string, number>> {
  const summary: Record<string, Record<string, number>> = {};
  for (const outcome of outcomes) {
    const byStatus = (summary[outcome.request.kind] ??= {});
    byStatus[outcome.status] = (byStatus[outcome.status] ?? 0) + 1;
  }
  return summary;
}
