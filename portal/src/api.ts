/**
 * The portal's one API client: same-origin fetches with the session cookie, the CSRF token on every
 * non-GET request, and the API's `{error: {code, message, details}}` turned into an ApiError whose
 * 422 details can be read per field.
 */

export interface FieldIssue {
  field: string;
  message: string;
  code?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The 422 issues, keyed by field without its location (`body.url` → `url`, `query.limit` → `limit`). */
  get fields(): Record<string, string> {
    const issues = Array.isArray(this.details) ? (this.details as FieldIssue[]) : [];
    const byField: Record<string, string> = {};
    for (const issue of issues) {
      if (!issue || typeof issue.field !== 'string') continue;
      const name = issue.field.replace(/^(body|query|path)\.?/, '') || issue.field;
      byField[name] = byField[name] ? `${byField[name]}; ${issue.message}` : issue.message;
    }
    return byField;
  }
}

/** The first message among `fields` for `name` itself or anything under it (`retry_schedule.0`, `headers.X-Auth`). */
export function fieldError(fields: Record<string, string>, ...names: string[]): string | undefined {
  const messages: string[] = [];
  for (const [field, message] of Object.entries(fields)) {
    if (names.some((name) => field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`))) messages.push(message);
  }
  return messages.length > 0 ? messages.join('; ') : undefined;
}

let csrfToken = '';
let tenantId = '';
let sessionEnded: ((error: ApiError) => void) | undefined;

export function setSessionCredentials(session: { tenant_id: string; csrf_token: string }, onEnded: (error: ApiError) => void) {
  csrfToken = session.csrf_token;
  tenantId = session.tenant_id;
  sessionEnded = onEnded;
}

/** `/v1/tenants/<the session's tenant>` + suffix. */
export const tenantPath = (suffix = '') => `/v1/tenants/${encodeURIComponent(tenantId)}${suffix}`;

/** A query string from the defined, non-empty values: `?a=1&b=x`, or ''. */
export function query(values: Record<string, string | number | boolean | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function send<T>(method: string, path: string, body?: unknown, options: { sessionCall?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'Herald could not be reached. Check your connection and try again.');
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    const failure = new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? `Herald answered HTTP ${response.status}`, error?.details ?? null);
    if (response.status === 401 && !options.sessionCall) sessionEnded?.(failure);
    throw failure;
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => send<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => send<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => send<T>('PATCH', path, body),
  delete: <T = void>(path: string) => send<T>('DELETE', path),
  /** /portal/session calls: a 401 there is the answer, not the end of a session. */
  session: <T>(method: 'GET' | 'POST' | 'DELETE', body?: unknown) => send<T>(method, '/portal/session', body, { sessionCall: true }),
};

/** Every page of a paginated list (at most `maxPages`), for small lists such as the event catalog. */
export async function allPages<T>(path: string, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const separator = path.includes('?') ? '&' : '?';
    const answer: { data: T[]; next_cursor: string | null } = await api.get(`${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...answer.data);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** A human sentence for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
