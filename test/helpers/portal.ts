import { readAnswer, type ApiAnswer, type ApiCall } from './api.js';
import type { TestStack } from './stack.js';
import type { TenantFixture } from './deliveries.js';

/** A portal link for the tenant, made with its API key (`POST …/portal-sessions`). */
export async function portalLink(call: ApiCall, tenant: TenantFixture, body: { expires_in?: string; read_only?: boolean } = {}) {
  const answer = await call('POST', `/v1/tenants/${tenant.id}/portal-sessions`, { key: tenant.apiKey, body });
  if (answer.status !== 201) throw new Error(`creating a portal link answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as { id: string; url: string; expires_at: string; read_only: boolean };
}

/** The token in a portal link's fragment (`…/portal/#token=…`). */
export const linkToken = (url: string) => new URL(url).hash.replace(/^#token=/, '');

/** Opens a link as the portal page does (`POST /portal/session`); the answer, and the cookie it set. */
export async function openPortalLink(stack: Pick<TestStack, 'apiUrl'>, url: string) {
  const response = await fetch(`${stack.apiUrl}/portal/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: linkToken(url) }),
  });
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { status: response.status, body: (await response.json()) as any, setCookie, cookie: setCookie.split(';')[0]! };
}

/**
 * A portal session's API client: the browser's cookie, and (unless `csrf: null` or another token) its CSRF header
 * on every request, JSON in and out, as the portal's pages call /v1.
 */
export function portalClient(stack: Pick<TestStack, 'apiUrl'>, session: { cookie: string; csrf: string }) {
  return async function call(method: string, path: string, options: { body?: unknown; csrf?: string | null } = {}): Promise<ApiAnswer> {
    const csrf = options.csrf === undefined ? session.csrf : options.csrf;
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        cookie: session.cookie,
        ...(csrf ? { 'x-csrf-token': csrf } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    return readAnswer(response);
  };
}

/** A link opened: its portal client (cookie and CSRF token set) and the session view. */
export async function openPortal(stack: Pick<TestStack, 'apiUrl'>, call: ApiCall, tenant: TenantFixture, body: { expires_in?: string; read_only?: boolean } = {}) {
  const link = await portalLink(call, tenant, body);
  const opened = await openPortalLink(stack, link.url);
  if (opened.status !== 200) throw new Error(`opening the portal link answered ${opened.status}: ${JSON.stringify(opened.body)}`);
  return { link, session: opened.body, cookie: opened.cookie, portal: portalClient(stack, { cookie: opened.cookie, csrf: opened.body.csrf_token }) };
}
