import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '../db/client.js';
import { NotFound, Unauthenticated } from './errors.js';
import { newId } from './ids.js';

/**
 * Portal sessions, the way Svix's app-portal access works: a tenant's key (or the admin key) asks for a one-time link;
 * the browser that opens it swaps the link's token, once and before it expires, for a session token kept in an
 * HttpOnly cookie, scoped to that tenant, read-only or not. Only SHA-256 hashes of both tokens are stored. The CSRF
 * token is random per session and handed to the page (it is no secret from the page, only from other sites).
 */

export interface PortalSession {
  id: string;
  tenant_id: string;
  tenant_name: string;
  read_only: boolean;
  expires_at: Date;
  csrf_token: string;
}

/** Why a portal link was refused; the page shows the message. */
export type PortalLinkProblem = 'link_invalid' | 'link_used' | 'link_expired';

const linkProblemMessages: Record<PortalLinkProblem, string> = {
  link_invalid: 'This portal link is not valid. Ask for a new one.',
  link_used: 'This portal link has already been used; each link opens the portal once. Ask for a new one.',
  link_expired: 'This portal link has expired. Ask for a new one.',
};

/** The link or session presented cannot open the portal (the API answers 401 with `problem` as its code). */
export class PortalAccessRefused extends Unauthenticated {
  constructor(readonly problem: PortalLinkProblem | 'no_session') {
    super(problem === 'no_session' ? noSessionMessage : linkProblemMessages[problem], problem);
  }
}

export const noSessionMessage = 'Your portal session has ended or was never opened. Ask for a new portal link.';

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = (prefix: string) => `${prefix}_${randomBytes(32).toString('base64url')}`;

/** A new one-time link's token for the tenant, valid for `linkTtlMs`. */
export async function createPortalLink(
  sql: Sql,
  input: { tenantId: string; linkTtlMs: number; readOnly: boolean; createdBy: string },
): Promise<{ id: string; token: string; expires_at: Date; read_only: boolean }> {
  const token = newToken('ptl');
  const [row] = await sql<{ id: string; link_expires_at: Date; read_only: boolean }[]>`
    insert into portal_sessions (id, tenant_id, link_hash, link_expires_at, read_only, created_by)
    select ${newId('portalSession')}, id, ${tokenHash(token)}, now() + ${input.linkTtlMs} * interval '1 millisecond', ${input.readOnly}, ${input.createdBy}
    from tenants where id = ${input.tenantId}
    returning id, link_expires_at, read_only`;
  if (!row) throw new NotFound('Tenant');
  return { id: row.id, token, expires_at: row.link_expires_at, read_only: row.read_only };
}

/**
 * Opens the portal with a link's token: the first use before it expires starts a session of `sessionTtlMs` and
 * returns its token (for the cookie); any other use is refused with why.
 */
export async function openPortalSession(sql: Sql, linkToken: string, sessionTtlMs: number): Promise<{ sessionToken: string; session: PortalSession }> {
  const sessionToken = newToken('pts');
  const [opened] = await sql<{ id: string }[]>`
    update portal_sessions set
      link_used_at = now(), session_hash = ${tokenHash(sessionToken)}, csrf_token = ${randomBytes(24).toString('base64url')},
      session_expires_at = now() + ${sessionTtlMs} * interval '1 millisecond'
    where link_hash = ${tokenHash(linkToken)} and link_used_at is null and link_expires_at > now() and ended_at is null
    returning id`;
  if (!opened) {
    const [link] = await sql<{ used: boolean }[]>`select link_used_at is not null as used from portal_sessions where link_hash = ${tokenHash(linkToken)}`;
    throw new PortalAccessRefused(!link ? 'link_invalid' : link.used ? 'link_used' : 'link_expired');
  }
  const session = await findPortalSession(sql, sessionToken);
  if (!session) throw new PortalAccessRefused('no_session');
  return { sessionToken, session };
}

/** The live session a cookie's token names, or undefined (unknown, expired, ended, or its tenant deleted). */
export async function findPortalSession(sql: Sql, sessionToken: string): Promise<PortalSession | undefined> {
  const [session] = await sql<PortalSession[]>`
    select s.id, s.tenant_id, t.name as tenant_name, s.read_only, s.session_expires_at as expires_at, s.csrf_token
    from portal_sessions s join tenants t on t.id = s.tenant_id
    where s.session_hash = ${tokenHash(sessionToken)} and s.session_expires_at > now() and s.ended_at is null`;
  return session;
}

/** Signs a session out: its cookie opens nothing any more. */
export async function endPortalSession(sql: Sql, sessionId: string): Promise<void> {
  await sql`update portal_sessions set ended_at = coalesce(ended_at, now()) where id = ${sessionId}`;
}
