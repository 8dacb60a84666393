import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { stringifySetCookie } from 'cookie';
import type { ApiDeps } from '../app.js';
import { checkPortalRequest, portalCookieName, portalSessionToken, principalOf, requireApiKey, tenantScope } from '../auth.js';
import { defineRoute, z } from '../openapi.js';
import { tenantIdParams } from './tenants.js';
import { durationPattern, parseDuration } from '../../core/durations.js';
import { createPortalLink, endPortalSession, findPortalSession, openPortalSession, PortalAccessRefused, type PortalSession } from '../../core/portal-sessions.js';

/**
 * The customer portal (issue 15): links to it, its sessions, and its built pages under /portal. The pages call the
 * ordinary /v1 API with the session's cookie (src/api/auth.ts: tenant-scoped, CSRF-checked, read-only enforced); no
 * business rule lives here.
 */

const maxLinkLifetimeMs = 7 * 86_400_000;

const createPortalSessionSchema = z
  .object({
    expires_in: z
      .string()
      .regex(durationPattern, 'must be a duration such as 15m, 2h or 1d')
      // Checked only once the pattern holds (zod runs every check).
      .refine((text) => !durationPattern.test(text) || (parseDuration(text) >= 1000 && parseDuration(text) <= maxLinkLifetimeMs), 'must be between 1s and 7d')
      .optional()
      .openapi({ description: 'How long the link may be opened (once): 15m by default, at most 7d', example: '15m' }),
    read_only: z.boolean().optional().openapi({ description: 'A session that can look but not change anything (the server refuses its changes)' }),
  })
  .strict()
  .openapi('CreatePortalSession');

const portalLinkSchema = z
  .object({
    id: z.string().openapi({ example: 'pss_01J7W9S52C2ZK1XFY2GM7Z7SAK' }),
    url: z.string().openapi({ description: 'The one-time link to hand to the customer: `<base>/portal/#token=…`' }),
    expires_at: z.string().openapi({ format: 'date-time', description: 'The link must be opened before then' }),
    read_only: z.boolean(),
  })
  .openapi('PortalLink');

const portalSessionSchema = z
  .object({
    tenant_id: z.string(),
    tenant_name: z.string(),
    read_only: z.boolean(),
    expires_at: z.string().openapi({ format: 'date-time' }),
    csrf_token: z.string().openapi({ description: 'Send it as the x-csrf-token header of every request that changes something' }),
  })
  .openapi('PortalSession');

const sessionView = (session: PortalSession) => ({
  tenant_id: session.tenant_id,
  tenant_name: session.tenant_name,
  read_only: session.read_only,
  expires_at: session.expires_at.toISOString(),
  csrf_token: session.csrf_token,
});

/**
 * Pages: scripts and styles from this origin only, nothing inline, no framing, no referrer; the API's JSON is
 * fetched from the same origin.
 */
const portalHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  referrerPolicy: { policy: 'no-referrer' },
  frameguard: { action: 'deny' },
  strictTransportSecurity: false,
});

export function portalRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql, config } = deps;
  const tags = ['Portal'];
  const sessionTtlMs = config.HERALD_PORTAL_SESSION_TTL;
  // The pages' headers on everything under /portal, its session's JSON included.
  router.use('/portal', portalHeaders);

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/portal-sessions',
      summary: 'Create a one-time link to the webhook portal for the tenant',
      description:
        "Hand the `url` to the tenant's customer: opened once before `expires_at`, it starts a portal session of " +
        'HERALD_PORTAL_SESSION_TTL (8h by default) in that browser, scoped to this tenant.',
      tags,
      access: 'key',
      request: { params: tenantIdParams, body: createPortalSessionSchema },
      responses: { 201: { description: 'The link', schema: portalLinkSchema } },
      errors: [404],
      before: [requireApiKey, tenantScope(deps)],
    },
    async ({ params, body }, request, response) => {
      const principal = principalOf(response);
      const link = await createPortalLink(sql, {
        tenantId: params.tenant_id,
        linkTtlMs: parseDuration(body.expires_in ?? '15m'),
        readOnly: body.read_only ?? false,
        createdBy: principal.kind === 'tenant' ? principal.keyId : 'admin',
      });
      const base = config.HERALD_PUBLIC_URL ?? `${request.protocol}://${request.get('host')}`;
      response.status(201).json({ id: link.id, url: `${base.replace(/\/+$/, '')}/portal/#token=${link.token}`, expires_at: link.expires_at.toISOString(), read_only: link.read_only });
    },
  );

  /** The live session the request's cookie names, if any. */
  const sessionOf = async (request: express.Request) => {
    const token = portalSessionToken(request);
    return token ? findPortalSession(sql, token) : undefined;
  };
  const setSessionCookie: (value: string, maxAgeSeconds: number) => string = (value, maxAgeSeconds) =>
    stringifySetCookie({ name: portalCookieName, value, httpOnly: true, sameSite: 'strict', path: '/', secure: !config.HERALD_DEV_MODE, maxAge: maxAgeSeconds });

  defineRoute(
    router,
    {
      method: 'post',
      path: '/portal/session',
      summary: "Open the portal with a link's token: sets the session cookie",
      description: 'Each link opens once, before it expires: 401 `link_used`, `link_expired` or `link_invalid` otherwise.',
      tags,
      access: 'public',
      request: { body: z.object({ token: z.string().min(1).max(200) }).strict().openapi('OpenPortalSession') },
      responses: { 200: { description: 'The session (its token is in the HttpOnly cookie)', schema: portalSessionSchema } },
      errors: [401],
    },
    async ({ body }, _request, response) => {
      const { sessionToken, session } = await openPortalSession(sql, body.token, sessionTtlMs);
      response.setHeader('set-cookie', setSessionCookie(sessionToken, Math.floor(sessionTtlMs / 1000)));
      response.setHeader('cache-control', 'no-store');
      response.json(sessionView(session));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/portal/session',
      summary: "The browser's portal session",
      tags,
      access: 'public',
      responses: { 200: { description: 'The session', schema: portalSessionSchema } },
      errors: [401],
    },
    async (_input, request, response) => {
      const session = await sessionOf(request);
      if (!session) throw new PortalAccessRefused('no_session');
      response.setHeader('cache-control', 'no-store');
      response.json(sessionView(session));
    },
  );

  defineRoute(
    router,
    {
      method: 'delete',
      path: '/portal/session',
      summary: 'Sign out of the portal',
      tags,
      access: 'public',
      responses: { 204: { description: 'Signed out; the cookie is cleared' } },
      errors: [403],
    },
    async (_input, request, response) => {
      const session = await sessionOf(request);
      // Like every change a session makes, signing out needs its CSRF token: no other site can sign a customer out.
      if (session) {
        checkPortalRequest(request, session, { signingOut: true });
        await endPortalSession(sql, session.id);
      }
      response.setHeader('set-cookie', setSessionCookie('', 0));
      response.status(204).end();
    },
  );

  router.use('/portal', portalPages(config.HERALD_PORTAL_DIR));
  return router;
}

/** The built pages (`npm run build:portal`), index.html for every page path, never cached (the assets may be). */
function portalPages(directory: string): RequestHandler {
  const index = path.join(directory, 'index.html');
  const assets = express.static(directory, { index: false, fallthrough: true });
  return (request, response, next) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      next();
      return;
    }
    assets(request, response, () => {
      // A missing asset is a 404, not the page.
      if (path.extname(request.path) !== '') {
        next();
        return;
      }
      if (!existsSync(index)) {
        response.status(503).type('text/plain').send('The portal is not built: run `npm run build:portal` (herald dev builds it on first start).\n');
        return;
      }
      response.setHeader('cache-control', 'no-store');
      response.sendFile(index);
    });
  };
}
