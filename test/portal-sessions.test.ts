import { describe, expect, it } from 'vitest';
import { createTenant } from './helpers/api.js';
import { createEndpoint, expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { runHeraldCli } from './helpers/run-node.js';
import { linkToken, openPortal, openPortalLink, portalClient, portalLink } from './helpers/portal.js';

/**
 * Portal access (issue 15), over HTTP: one-time links made with an API key, swapped once for a tenant-scoped session
 * cookie, with which the portal calls the ordinary /v1 API (browser-level checks: portal-security.test.ts).
 */
describe('portal sessions', () => {
  const suite = useDeliveryStack();

  it("a tenant key makes a one-time link; opening it sets an HttpOnly, SameSite=Strict cookie that reads and changes the tenant's endpoints", async () => {
    const link = await portalLink(suite.call, suite.tenant);
    expect(link).toMatchObject({ id: expect.stringMatching(/^pss_/), url: expect.stringMatching(/\/portal\/#token=ptl_[A-Za-z0-9_-]{43}$/), read_only: false });
    const expiresIn = Date.parse(link.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);

    const opened = await openPortalLink(suite.stack, link.url);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ tenant_id: suite.tenant.id, tenant_name: 'Acme', read_only: false, csrf_token: expect.any(String) });
    // Eight hours by default.
    expect(Math.abs(Date.parse(opened.body.expires_at) - Date.now() - 8 * 3_600_000)).toBeLessThan(60_000);
    expect(opened.setCookie).toMatch(/^herald_portal=pts_[A-Za-z0-9_-]+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict$/);

    const portal = portalClient(suite.stack, { cookie: opened.cookie, csrf: opened.body.csrf_token });
    expect((await portal('GET', '/portal/session')).body).toEqual(opened.body);
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: 'http://127.0.0.1:9/hook', description: 'before' });
    expect((await portal('GET', `/v1/tenants/${suite.tenant.id}/endpoints/${endpoint.id}`)).body).toMatchObject({ id: endpoint.id, description: 'before' });
    const patched = await portal('PATCH', `/v1/tenants/${suite.tenant.id}/endpoints/${endpoint.id}`, { body: { description: 'from the portal' } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.description).toBe('from the portal');
  });

  it('a portal session cannot mint API keys or portal links (403), nor act as the admin; a key always wins over the cookie', async () => {
    const { portal, cookie } = await openPortal(suite.stack, suite.call, suite.tenant);
    const tenantPath = `/v1/tenants/${suite.tenant.id}`;
    for (const [method, path, body] of [
      ['POST', `${tenantPath}/api-keys`, {}],
      ['GET', `${tenantPath}/api-keys`, undefined],
      ['POST', `${tenantPath}/portal-sessions`, {}],
      ['POST', '/v1/tenants', { name: 'Mallory' }],
      ['GET', '/v1/tenants', undefined],
    ] as const) {
      const answer = await portal(method, path, { body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error.code).toBe('forbidden');
    }
    // Another tenant's key with this cookie acts as that tenant: this tenant is out of its sight.
    const other = await createTenant(suite.call, { name: 'Other' });
    const answer = await fetch(`${suite.stack.apiUrl}${tenantPath}/endpoints`, { headers: { cookie, authorization: `Bearer ${other.apiKey}` } });
    expect(answer.status).toBe(404);
  });

  it('the admin key makes links for any tenant, read-only on request; a link lives expires_in, 1 s to 7 d', async () => {
    const created = await expectStatus(suite.call('POST', `/v1/tenants/${suite.tenant.id}/portal-sessions`, { body: { expires_in: '2h', read_only: true } }), 201);
    expect(created.read_only).toBe(true);
    expect(Math.abs(Date.parse(created.expires_at) - Date.now() - 2 * 3_600_000)).toBeLessThan(60_000);
    const opened = await openPortalLink(suite.stack, created.url);
    expect(opened.body).toMatchObject({ tenant_id: suite.tenant.id, read_only: true });
    // A read-only session changes nothing, but may sign out.
    const readOnly = portalClient(suite.stack, { cookie: opened.cookie, csrf: opened.body.csrf_token });
    expect((await readOnly('PATCH', `/v1/tenants/${suite.tenant.id}`, { body: { name: 'Renamed' } })).body.error.code).toBe('read_only');
    expect((await readOnly('DELETE', '/portal/session')).status).toBe(204);
    expect((await readOnly('GET', '/portal/session')).status).toBe(401);
    for (const expires_in of ['0s', '8d', 'soon']) {
      const refused = await suite.call('POST', `/v1/tenants/${suite.tenant.id}/portal-sessions`, { body: { expires_in } });
      expect(refused.status, expires_in).toBe(422);
      expect(refused.body.error.details[0].field).toBe('body.expires_in');
    }
  });

  it("GET …/deliveries/:id/request shows the request as sent: the receiver's exact body and headers, custom header values and signatures masked", async () => {
    const receiver = await suite.receivers.start(answer(200));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'], headers: { 'X-Api-Token': 'tok-very-secret-9876' } });
    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case: 'as sent' });
    const deliveryId = published.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id as string;
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['delivered']);
    const [received] = await receiver.waitForRequests(1);
    const { portal } = await openPortal(suite.stack, suite.call, suite.tenant);
    const shown = await expectStatus(portal('GET', `/v1/tenants/${suite.tenant.id}/deliveries/${deliveryId}/request`), 200);
    expect(shown).toMatchObject({ method: 'POST', url: receiver.url, body: received!.body });
    expect(shown.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': deliveryId,
      'webhook-timestamp': received!.headers['webhook-timestamp'],
      'X-Api-Token': '****9876',
      'webhook-signature': expect.stringMatching(/^\*\*\*\*.{4}$/),
    });
    expect(JSON.stringify(shown)).not.toContain('tok-very-secret');
    expect((await portal('GET', `/v1/tenants/${suite.tenant.id}/deliveries/whd_01J7W9S4TSQ0T4SH43JYB9W5R8/request`)).status).toBe(404);
  });

  it('herald portal [tenant] prints a fresh link that opens once; --read-only and --expires-in pass through', async () => {
    const target = { apiUrl: suite.stack.apiUrl, apiKey: suite.tenant.apiKey, tenantId: suite.tenant.id };
    const run = await runHeraldCli(target, ['portal', suite.tenant.id, '--read-only', '--expires-in', '5m']);
    expect(run.status, run.stderr).toBe(0);
    const url = run.stdout.trim();
    expect(url).toMatch(new RegExp(`^${suite.stack.apiUrl}/portal/#token=ptl_`));
    expect(run.stderr).toMatch(/^opens once, until \S+ \(read-only\)\n$/);
    expect((await openPortalLink(suite.stack, url)).body).toMatchObject({ tenant_id: suite.tenant.id, read_only: true });
    // The tenant from HERALD_TENANT when none is given.
    const fromEnvironment = await runHeraldCli(target, ['portal', '--json']);
    expect(JSON.parse(fromEnvironment.stdout)).toMatchObject({ url: expect.stringContaining('/portal/#token='), read_only: false });
  }, 60_000);

  it('signing out (with the CSRF token) ends the session: its cookie then opens nothing (401 no_session)', async () => {
    const { portal, link } = await openPortal(suite.stack, suite.call, suite.tenant);
    // Not from another site: signing out needs the CSRF token too.
    expect((await portal('DELETE', '/portal/session', { csrf: null })).body.error.code).toBe('csrf_failed');
    expect((await portal('GET', '/portal/session')).status).toBe(200);
    expect((await portal('DELETE', '/portal/session')).status).toBe(204);
    const after = await portal('GET', `/v1/tenants/${suite.tenant.id}/endpoints`);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('no_session');
    expect((await portal('GET', '/portal/session')).body.error.code).toBe('no_session');
    // And its link stays used.
    expect((await openPortalLink(suite.stack, link.url)).body.error.code).toBe('link_used');
    expect(linkToken(link.url)).toMatch(/^ptl_/);
  });
});
