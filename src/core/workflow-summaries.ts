/**
 * The static summaries Herald gives its workflows (Temporal user metadata, `staticSummary` on start): one line the
 * Web UI shows in the workflow list and on the workflow's page. Only what an operator of the tenant may read: the
 * endpoint's URL without credentials, query or fragment (they may carry tokens), the tenant's name, the event type;
 * never a secret, a header value or a payload.
 */

/** An endpoint URL as summaries show it: origin and path only. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

const receiver = (url: string, tenantName: string | null | undefined) => `${displayUrl(url)}${tenantName ? ` (${tenantName})` : ''}`;

/** `v1.case.completed → https://receiver.example.com/hooks (Acme)` */
export const deliverySummary = (delivery: { event_type: string; endpoint_url: string; tenant_name?: string | null }) =>
  `${delivery.event_type} → ${receiver(delivery.endpoint_url, delivery.tenant_name)}`;

/** `health of https://receiver.example.com/hooks (Acme)` */
export const healthSummary = (endpoint: { url: string; tenant_name?: string | null }) => `health of ${receiver(endpoint.url, endpoint.tenant_name)}`;

/** `recovery of failed deliveries → https://receiver.example.com/hooks (Acme)` */
export const recoverySummary = (recovery: { delivery_status: string; url: string; tenant_name?: string | null }) =>
  `recovery of ${recovery.delivery_status} deliveries → ${receiver(recovery.url, recovery.tenant_name)}`;

/** `email digest of v1.endpoint.disabled for ep_… (Acme)`: a channel message never shows its recipients or Slack URL. */
export const channelMessageSummary = (message: { channel_type: string; kind: string; endpoint_id: string | null; tenant_name?: string | null }) =>
  `${message.channel_type} notice of ${message.kind}${message.endpoint_id ? ` for ${message.endpoint_id}` : ''}${message.tenant_name ? ` (${message.tenant_name})` : ''}`;
