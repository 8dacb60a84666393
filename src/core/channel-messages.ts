import { operationalEventTypes } from './operational-events.js';
import type { OccurrenceRow } from './channels.js';

/**
 * What a channel message says, rendered once for both media: a subject, a plain-text and an HTML body for email,
 * and Slack's Block Kit (`text` is the notification fallback, `blocks` the message). A digest (several occurrences in
 * one window) says how many there were and lists the first few.
 */
export interface RenderedNotice {
  subject: string;
  text: string;
  html: string;
  slack: { text: string; blocks: unknown[] };
}

export interface NoticeContext {
  kind: string;
  endpointId: string | null;
  endpoint?: { url: string; description: string; last_errors: string[] };
  total: number;
  occurrences: OccurrenceRow[];
  windowStart: Date;
  windowEnd: Date;
  /** `<HERALD_PUBLIC_URL or the API's address>/portal/`. */
  portalUrl: string;
  tenantName?: string | null;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
/** Slack mrkdwn escapes only these three. */
const escapeSlack = (text: string) => text.replace(/[&<>]/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[char]!);

const headline: Record<string, (count: number) => string> = {
  [operationalEventTypes.endpointDisabled]: (count) => (count > 1 ? `Endpoint disabled ${count} times` : 'Endpoint disabled'),
  [operationalEventTypes.endpointEnabled]: (count) => (count > 1 ? `Endpoint re-enabled ${count} times` : 'Endpoint re-enabled'),
  [operationalEventTypes.deliveryFailed]: (count) => (count > 1 ? `${count} deliveries failed after their retries` : 'A delivery failed after its retries'),
  [operationalEventTypes.recoveryFinished]: (count) => (count > 1 ? `${count} recoveries finished` : 'Recovery finished'),
};

/** One line per occurrence: what happened, from its data. */
function describeOccurrence(kind: string, data: Record<string, any>): string {
  switch (kind) {
    case operationalEventTypes.endpointDisabled:
      return `disabled: ${data.reason}${data.consecutive_failures ? ` after ${data.consecutive_failures} consecutive failures` : ''}${data.last_error ? ` (last error: ${data.last_error})` : ''}`;
    case operationalEventTypes.endpointEnabled:
      return 're-enabled';
    case operationalEventTypes.deliveryFailed:
      return `delivery ${data.delivery_id} of ${data.event_type} (event ${data.event_id}) failed after ${data.attempts} attempts${data.last_error ? `: ${data.last_error}` : ''}`;
    case operationalEventTypes.recoveryFinished:
      return `recovery ${data.recovery_id} finished: ${data.replayed} of ${data.total} deliveries replayed`;
    default: {
      const json = JSON.stringify(data);
      return json.length > 300 ? `${json.slice(0, 300)}…` : json;
    }
  }
}

export function renderNotice(context: NoticeContext): RenderedNotice {
  const title = headline[context.kind]?.(context.total) ?? (context.total > 1 ? `${context.total} × ${context.kind}` : context.kind);
  const endpointName = context.endpoint ? `${context.endpoint.url}${context.endpoint.description ? ` (${context.endpoint.description})` : ''}` : context.endpointId;
  const subject = `[Herald] ${title}${endpointName ? `: ${endpointName}` : ''}`;
  const portalLink = context.endpointId ? `${context.portalUrl}webhooks/${encodeURIComponent(context.endpointId)}/logs` : context.portalUrl;
  const lines = context.occurrences.map((occurrence) => `${occurrence.created_at.toISOString()} ${describeOccurrence(context.kind, occurrence.data)}`);
  const more = context.total - context.occurrences.length;
  const reason = context.kind === operationalEventTypes.endpointDisabled ? String(context.occurrences.at(-1)?.data.reason ?? '') : null;
  const lastErrors = context.kind === operationalEventTypes.endpointDisabled || context.kind === operationalEventTypes.deliveryFailed ? (context.endpoint?.last_errors ?? []) : [];
  const digest = context.total > 1 ? `${context.total} occurrences between ${context.windowStart.toISOString()} and ${context.windowEnd.toISOString()}.` : null;

  const text = [
    title,
    '',
    ...(endpointName ? [`Endpoint: ${endpointName}`, `Endpoint id: ${context.endpointId}`] : []),
    ...(context.tenantName ? [`Tenant: ${context.tenantName}`] : []),
    ...(reason ? [`Reason: ${reason}`] : []),
    ...(digest ? ['', digest] : []),
    '',
    ...lines.map((line) => `- ${line}`),
    ...(more > 0 ? [`… and ${more} more`] : []),
    ...(lastErrors.length > 0 ? ['', 'Last errors:', ...lastErrors.map((error) => `- ${error}`)] : []),
    '',
    `Open the portal: ${portalLink}`,
    '',
  ].join('\n');

  const html = [
    '<!doctype html><html><body style="font-family: sans-serif">',
    `<h2>${escapeHtml(title)}</h2>`,
    endpointName ? `<p><strong>Endpoint:</strong> ${escapeHtml(endpointName)}<br><strong>Endpoint id:</strong> <code>${escapeHtml(context.endpointId ?? '')}</code></p>` : '',
    context.tenantName ? `<p><strong>Tenant:</strong> ${escapeHtml(context.tenantName)}</p>` : '',
    reason ? `<p><strong>Reason:</strong> ${escapeHtml(reason)}</p>` : '',
    digest ? `<p>${escapeHtml(digest)}</p>` : '',
    `<ul>${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}${more > 0 ? `<li>… and ${more} more</li>` : ''}</ul>`,
    lastErrors.length > 0 ? `<h3>Last errors</h3><ul>${lastErrors.map((error) => `<li><code>${escapeHtml(error)}</code></li>`).join('')}</ul>` : '',
    `<p><a href="${escapeHtml(portalLink)}">Open the portal</a></p>`,
    '</body></html>',
  ].join('\n');

  const fields = [
    ...(endpointName ? [{ type: 'mrkdwn', text: `*Endpoint*\n${escapeSlack(endpointName)}` }] : []),
    ...(reason ? [{ type: 'mrkdwn', text: `*Reason*\n${escapeSlack(reason)}` }] : []),
  ];
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
    ...(fields.length > 0 ? [{ type: 'section', fields }] : []),
    ...(digest ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(digest) }] }] : []),
    { type: 'section', text: { type: 'mrkdwn', text: escapeSlack([...lines, ...(more > 0 ? [`… and ${more} more`] : [])].map((line) => `• ${line}`).join('\n')).slice(0, 3000) } },
    ...(lastErrors.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: `*Last errors*\n${lastErrors.map((error) => `\`${escapeSlack(error)}\``).join('\n')}`.slice(0, 3000) } }] : []),
    { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open the portal' }, url: portalLink }] },
  ];
  return { subject, text, html, slack: { text: `${subject.replace(/^\[Herald\] /, 'Herald: ')}`, blocks } };
}

/** The test message `POST …/channels/:id/test` sends. */
export function renderTestNotice(portalUrl: string): RenderedNotice {
  const text = `This is a test notification from Herald. Your channel works.\n\nOpen the portal: ${portalUrl}\n`;
  return {
    subject: '[Herald] Test notification',
    text,
    html: `<!doctype html><html><body><h2>Test notification</h2><p>This is a test notification from Herald. Your channel works.</p><p><a href="${escapeHtml(portalUrl)}">Open the portal</a></p></body></html>`,
    slack: {
      text: 'Herald: test notification',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Test notification' } },
        { type: 'section', text: { type: 'mrkdwn', text: 'This is a test notification from Herald. Your channel works.' } },
      ],
    },
  };
}
