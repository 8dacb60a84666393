import type { TestStack } from './stack.js';

export interface ApiAnswer<Body = any> {
  status: number;
  body: Body;
  headers: Headers;
}

export interface CallOptions {
  /** Bearer key; null sends no Authorization header. */
  key?: string | null;
  body?: unknown;
  /** Sent as is instead of JSON.stringify(body). */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** fetch against the stack's API, JSON in and out; `key` defaults to the admin key. */
export function apiClient(stack: Pick<TestStack, 'apiUrl' | 'adminKey'>) {
  return async function call<Body = any>(method: string, path: string, options: CallOptions = {}): Promise<ApiAnswer<Body>> {
    const key = options.key === undefined ? stack.adminKey : options.key;
    const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}) };
    let payload: string | undefined = options.rawBody;
    if (payload === undefined && options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    return readAnswer(await fetch(`${stack.apiUrl}${path}`, { method, headers: { ...headers, ...options.headers }, body: payload }));
  };
}

/** A fetch response as an ApiAnswer: the body parsed as JSON when it is JSON, else its text. */
export async function readAnswer(response: Response): Promise<ApiAnswer> {
  const text = await response.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: response.status, body, headers: response.headers };
}

export type ApiCall = ReturnType<typeof apiClient>;

/** A tenant created with the admin key, and its first API key. */
export async function createTenant(call: ApiCall, body: { name?: string; max_endpoints?: number } = {}): Promise<{ id: string; apiKey: string }> {
  const created = await call('POST', '/v1/tenants', { body: { name: body.name ?? 'Acme', ...body } });
  if (created.status !== 201) throw new Error(`creating a tenant answered ${created.status}: ${JSON.stringify(created.body)}`);
  return { id: created.body.id, apiKey: created.body.api_key };
}

export async function createEventType(call: ApiCall, name: string, schema: Record<string, unknown> = { type: 'object' }): Promise<void> {
  const created = await call('POST', '/v1/event-types', { body: { name, description: name, schema } });
  if (created.status !== 201) throw new Error(`creating ${name} answered ${created.status}: ${JSON.stringify(created.body)}`);
}

/** The fields of a 4xx error body, the way every test checks it. */
export function errorFields(answer: ApiAnswer): string[] {
  return ((answer.body?.error?.details as { field: string }[] | null) ?? []).map((detail) => detail.field);
}
