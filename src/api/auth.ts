import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import { hashApiKey, safeEqual } from '../core/crypto.js';
import { authFailureSubjects, createRateWindows } from '../core/rate-windows.js';
import { NotFound } from '../core/errors.js';
import { HttpError, forbidden } from './errors.js';
import { parseCookie } from 'cookie';
import { findPortalSession, noSessionMessage, type PortalSession } from '../core/portal-sessions.js';

/**
 * Who is calling: the administrator (HERALD_ADMIN_KEY, acts on everything), a tenant (an `sk_` key
 * stored as a SHA-256 hash in api_keys, acts on its own tenant only), or a tenant's portal session (a cookie; acts
 * as the tenant, minus minting keys and links). Another tenant's resources are answered 404, exactly like missing
 * ones, so keys cannot probe for ids; admin-only actions are 403.
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenantId: string; keyId: string }
  /** A portal session (src/core/portal-sessions.ts): a tenant's customer in a browser, by cookie. */
  | { kind: 'portal'; tenantId: string; session: PortalSession };

/** The cookie a portal session lives in (HttpOnly, SameSite=Strict, Path=/). */
export const portalCookieName = 'herald_portal';
/** The header every state-changing portal request carries, with its session's CSRF token. */
export const csrfHeaderName = 'x-csrf-token';

export interface TenantRow {
  id: string;
  name: string;
  max_endpoints: number;
  created_at: Date;
  updated_at: Date;
}

const unauthorizedError = (message: string) => new HttpError(401, 'unauthorized', message);

function bearerToken(request: Request): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/**
 * Sets `response.locals.principal` from `Authorization: Bearer <key>`; 401 when it is missing, unknown or revoked.
 * Brute force: a request without a valid key counts one failure against its client address and against the prefix
 * of the key it presented, shared by all API processes (src/core/rate-windows.ts). Past
 * HERALD_AUTH_FAILURES_PER_MINUTE failures in the current minute such requests are answered 429 (rate_limited,
 * Retry-After) until the minute ends. A request with a valid key is never refused, so a flood of bad keys from an
 * address that many clients share (a proxy, a NAT) does not lock out the others. The client address is the
 * socket's unless HERALD_TRUST_PROXY names the proxies whose X-Forwarded-For may be believed.
 */
export function authenticate(deps: { sql: Sql; config: Pick<Config, 'HERALD_ADMIN_KEY'> & Partial<Pick<Config, 'HERALD_AUTH_FAILURES_PER_MINUTE'>> }): RequestHandler {
  const adminHash = deps.config.HERALD_ADMIN_KEY ? hashApiKey(deps.config.HERALD_ADMIN_KEY) : undefined;
  const failures = createRateWindows(deps.sql, { limit: deps.config.HERALD_AUTH_FAILURES_PER_MINUTE ?? 20, windowMs: 60_000 });

  const principalFor = async (token: string): Promise<Principal | undefined> => {
    const hash = hashApiKey(token);
    // Both sides are SHA-256 digests of equal length, compared in constant time.
    if (adminHash && safeEqual(hash, adminHash)) return { kind: 'admin' };
    const [key] = await deps.sql<{ id: string; tenant_id: string }[]>`select id, tenant_id from api_keys where key_hash = ${hash} and revoked_at is null`;
    return key && { kind: 'tenant', tenantId: key.tenant_id, keyId: key.id };
  };

  return async (request, response, next) => {
    const token = bearerToken(request);
    const principal = token ? await principalFor(token) : undefined;
    if (principal) {
      response.locals.principal = principal;
      next();
      return;
    }
    // No key: a portal session's cookie, if the browser sent one (a key, valid or not, always wins).
    const sessionToken = token ? undefined : portalSessionToken(request);
    if (sessionToken) {
      const session = await findPortalSession(deps.sql, sessionToken);
      if (!session) throw new HttpError(401, 'no_session', noSessionMessage);
      checkPortalRequest(request, session);
      response.locals.principal = { kind: 'portal', tenantId: session.tenant_id, session } satisfies Principal;
      next();
      return;
    }
    response.setHeader('www-authenticate', 'Bearer');
    const verdict = await failures.hit(authFailureSubjects(request.ip ?? request.socket.remoteAddress ?? 'unknown', token));
    if (verdict.limited) {
      const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      response.setHeader('retry-after', String(seconds));
      throw new HttpError(429, 'rate_limited', `Too many failed authentications from this address or with this key; retry in ${seconds} s`, { retry_after_seconds: seconds });
    }
    throw unauthorizedError(token ? 'The API key is not valid' : 'Send an API key as Authorization: Bearer <key>');
  };
}

/** The portal session token of the request's cookie, if any. */
export function portalSessionToken(request: Request): string | undefined {
  const header = request.headers.cookie;
  return header ? parseCookie(header)[portalCookieName] || undefined : undefined;
}

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * What a cookie alone cannot be trusted with. A request that changes something must carry the session's CSRF token
 * in a header, which another site's page cannot read or set (SameSite=Strict is the first line, this the second),
 * and a read-only session changes nothing: both refused here, on the server, whatever the page shows.
 */
export function checkPortalRequest(request: Request, session: PortalSession, options: { signingOut?: boolean } = {}): void {
  if (readMethods.has(request.method)) return;
  const presented = request.headers[csrfHeaderName];
  if (typeof presented !== 'string' || !safeEqual(Buffer.from(presented), Buffer.from(session.csrf_token))) {
    throw new HttpError(403, 'csrf_failed', `A change from the portal must carry its session's ${csrfHeaderName} header`);
  }
  // Signing out changes only the session itself: a read-only session may end.
  if (session.read_only && !options.signingOut) throw new HttpError(403, 'read_only', 'This portal session is read-only; ask for a portal link that can make changes');
}

export function principalOf(response: Response): Principal {
  const principal = response.locals.principal as Principal | undefined;
  if (!principal) throw unauthorizedError('Send an API key as Authorization: Bearer <key>');
  return principal;
}

/** Whether the principal may see the tenant's resources. */
export function canActOnTenant(principal: Principal, tenantId: string): boolean {
  return principal.kind === 'admin' || principal.tenantId === tenantId;
}

/** The tenant a principal belongs to; undefined for the admin. */
export const principalTenantId = (principal: Principal): string | undefined => (principal.kind === 'admin' ? undefined : principal.tenantId);

/** 403 for portal sessions: minting API keys and portal links needs a key (a customer's browser never holds one). */
export const requireApiKey: RequestHandler = (_request, response, next) => {
  if (principalOf(response).kind === 'portal') throw forbidden('This action needs an API key; a portal session cannot do it');
  next();
};

/** 403 for tenant keys: creating tenants, listing them, writing the event catalog. */
export const requireAdmin: RequestHandler = (_request, response, next) => {
  if (principalOf(response).kind !== 'admin') throw forbidden('This action needs the admin key');
  next();
};

export async function findTenant(sql: Sql, tenantId: string): Promise<TenantRow | undefined> {
  const [tenant] = await sql<TenantRow[]>`select id, name, max_endpoints, created_at, updated_at from tenants where id = ${tenantId}`;
  return tenant;
}

/**
 * For `/v1/tenants/:tenant_id/...`: loads the tenant into `response.locals.tenant`, or answers 404 when it
 * does not exist or the principal may not see it (a tenant key naming another tenant).
 */
export function tenantScope(deps: { sql: Sql }): RequestHandler {
  return async (request, response, next) => {
    const tenantId = String(request.params.tenant_id ?? '');
    const loaded = response.locals.tenant as TenantRow | undefined;
    if (loaded?.id === tenantId) {
      next();
      return;
    }
    const tenant = canActOnTenant(principalOf(response), tenantId) ? await findTenant(deps.sql, tenantId) : undefined;
    if (!tenant) throw new NotFound('Tenant');
    response.locals.tenant = tenant;
    next();
  };
}

/**
 * For `/v1/tenants/:tenant_id/endpoints/:endpoint_id/...` routes that take a body: 404 for an endpoint that is not the
 * tenant's (or is deleted) before the body is validated, so another tenant's ids never get a 422. After tenantScope.
 */
export function endpointScope(deps: { sql: Sql }): RequestHandler {
  return async (request, response, next) => {
    const [endpoint] = await deps.sql`
      select id from endpoints where tenant_id = ${tenantOf(response).id} and id = ${String(request.params.endpoint_id)} and deleted_at is null`;
    if (!endpoint) throw new NotFound('Endpoint');
    next();
  };
}

/** The tenant tenantScope loaded. */
export function tenantOf(response: Response): TenantRow {
  const tenant = response.locals.tenant as TenantRow | undefined;
  if (!tenant) throw new Error('tenantOf() needs the tenantScope middleware on the route');
  return tenant;
}
