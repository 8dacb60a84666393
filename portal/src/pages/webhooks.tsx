import { useEffect, useId, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, messageOf, tenantPath, query } from '../api.js';
import { ActiveBadge, ErrorText, HeaderList, HealthBadge, PageHeading, Pagination } from '../components.js';
import { ConfirmDialog } from '../dialog.js';
import { deactivatedByHerald, formatDate, formatDateTime, formatRate, reasonText, relativeTime } from '../format.js';
import { useLive } from '../live.js';
import { useSession } from '../session.js';
import type { Endpoint, Page, TestResult } from '../types.js';

const pageSize = 20;
type StatusFilter = 'all' | 'active' | 'inactive';

/** One page of endpoints matching the filter (the API filters by `active`). */
async function fetchEndpoints(cursor: string | undefined, status: StatusFilter): Promise<{ rows: Endpoint[]; next: string | null }> {
  const active = status === 'all' ? undefined : status === 'active';
  const answer: Page<Endpoint> = await api.get(tenantPath(`/endpoints${query({ limit: pageSize, cursor, active })}`));
  return { rows: answer.data, next: answer.next_cursor };
}

type Confirmation = { kind: 'deactivate' | 'activate' | 'delete'; endpoint: Endpoint };
type TestState = { endpoint: Endpoint; result?: TestResult; error?: string };

export function WebhooksPage() {
  const { session } = useSession();
  const readOnly = session.read_only;
  const live = useLive();
  const { route } = useLocation();
  const [status, setStatus] = useState<StatusFilter>('all');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<{ rows: Endpoint[]; next: string | null }>();
  const [error, setError] = useState<string>();
  const [confirm, setConfirm] = useState<Confirmation>();
  const [test, setTest] = useState<TestState>();
  const [reenabling, setReenabling] = useState<string>();
  const [bannerError, setBannerError] = useState<string>();
  const statusId = useId();

  const cursor = cursors[cursors.length - 1];
  const load = async () => {
    try {
      setPage(await fetchEndpoints(cursor, status));
      setError(undefined);
    } catch (failure) {
      setError(messageOf(failure));
    }
  };
  useEffect(() => {
    void load();
  }, [status, cursor, live.version]);

  const afterChange = async () => {
    live.refresh();
    await load();
  };

  const runConfirmed = async ({ kind, endpoint }: Confirmation) => {
    if (kind === 'delete') {
      await api.delete(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}`));
      live.notify(`Webhook ${endpoint.url} was deleted`, 'success');
      if (test?.endpoint.id === endpoint.id) setTest(undefined);
    } else {
      await api.post(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}/${kind === 'activate' ? 'enable' : 'disable'}`), {});
    }
    await afterChange();
  };

  const sendTest = async (endpoint: Endpoint) => {
    setTest({ endpoint });
    try {
      const result = await api.post<TestResult>(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}/test`), {});
      setTest({ endpoint, result });
    } catch (failure) {
      setTest({ endpoint, error: messageOf(failure) });
    }
    void load();
  };

  const reenable = async (endpoint: Endpoint) => {
    setReenabling(endpoint.id);
    setBannerError(undefined);
    try {
      await api.post(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}/enable`), {});
      await afterChange();
    } catch (failure) {
      setBannerError(`${endpoint.url} could not be re-enabled: ${messageOf(failure)}`);
    } finally {
      setReenabling(undefined);
    }
  };

  const deactivated = (live.endpoints ?? page?.rows ?? []).filter(deactivatedByHerald);

  return (
    <>
      <PageHeading title="Webhooks">
        {!readOnly && (
          <button type="button" class="button primary" onClick={() => route('/portal/webhooks/new')}>
            Create webhook
          </button>
        )}
      </PageHeading>
      <p class="intro">
        Herald sends your events to these URLs, signs every request and retries failed ones. Health shows how each one is doing right now.
      </p>
      {readOnly && <ReadOnlyNote />}

      {deactivated.map((endpoint) => (
        <div role="alert" class="banner banner-danger" key={endpoint.id}>
          <p>
            <strong>Endpoint </strong>
            <span class="url">{endpoint.url}</span>
            <strong> was deactivated</strong> by Herald on <time dateTime={endpoint.disabled_at ?? undefined}>{formatDateTime(endpoint.disabled_at)}</time> because{' '}
            {reasonText(endpoint.disabled_reason, endpoint.disable_after_failures)}. New events are recorded but not sent until it is re-enabled.
          </p>
          {!readOnly && (
            <button type="button" class="button" onClick={() => void reenable(endpoint)} disabled={reenabling === endpoint.id}>
              Re-enable
            </button>
          )}
        </div>
      ))}
      <ErrorText message={bannerError} />

      {test && <TestResultPanel test={test} onClose={() => setTest(undefined)} />}

      <div class="toolbar">
        <div class="field inline">
          <label for={statusId}>Status</label>
          <select
            id={statusId}
            value={status}
            onChange={(event) => {
              setStatus((event.currentTarget as HTMLSelectElement).value as StatusFilter);
              setCursors([undefined]);
            }}
          >
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="inactive">Inactive</option>
          </select>
        </div>
      </div>

      <ErrorText message={error} />
      {!page ? (
        <p class="muted">Loading webhooks…</p>
      ) : page.rows.length === 0 ? (
        <div class="empty">
          <p>{status === 'all' && cursors.length === 1 ? 'No webhooks yet.' : 'No webhooks match this filter.'}</p>
          {status === 'all' && cursors.length === 1 && !readOnly && <p>Create one to start receiving events.</p>}
        </div>
      ) : (
        <div class="table-wrap">
          <table class="table responsive endpoints-table">
            <caption class="visually-hidden">Your webhook endpoints</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint and actions</th>
                <th scope="col">Health</th>
                <th scope="col">Status</th>
                <th scope="col">Success rate (24 h)</th>
                <th scope="col">Last delivery</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((endpoint) => (
                <EndpointRow
                  key={endpoint.id}
                  endpoint={endpoint}
                  readOnly={readOnly}
                  testing={test?.endpoint.id === endpoint.id && !test.result && !test.error}
                  onTest={() => void sendTest(endpoint)}
                  onConfirm={(kind) => setConfirm({ kind, endpoint })}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}

      <Pagination label="Pages of webhooks" cursors={cursors} next={page?.next} onChange={setCursors} />

      {confirm && <EndpointConfirmation confirmation={confirm} onConfirm={() => runConfirmed(confirm)} onClose={() => setConfirm(undefined)} />}
    </>
  );
}

export function ReadOnlyNote() {
  return (
    <p class="banner banner-info">
      <strong>Read-only session.</strong> You can look at webhooks, logs and the event catalog, but not change anything.
    </p>
  );
}

function EndpointRow(props: { endpoint: Endpoint; readOnly: boolean; testing: boolean; onTest: () => void; onConfirm: (kind: Confirmation['kind']) => void }) {
  const { endpoint, readOnly } = props;
  const urlId = useId();
  const path = `/portal/webhooks/${encodeURIComponent(endpoint.id)}`;
  return (
    <tr class={endpoint.active ? '' : 'row-inactive'}>
      <td data-label="Endpoint" class="cell-endpoint">
        <span id={urlId} class="url">
          {endpoint.url}
        </span>
        {endpoint.description && <span class="description">{endpoint.description}</span>}
        <div class="actions" role="group" aria-labelledby={urlId}>
          {!readOnly && (
            <a class="button small" href={`${path}/edit`} aria-describedby={urlId}>
              Edit
            </a>
          )}
          {!readOnly && (
            <button type="button" class="button small" onClick={props.onTest} disabled={props.testing} aria-describedby={urlId}>
              Send test event
            </button>
          )}
          <a class="button small" href={`${path}/logs`} aria-describedby={urlId}>
            View logs
          </a>
          {!readOnly &&
            (endpoint.active ? (
              <button type="button" class="button small" onClick={() => props.onConfirm('deactivate')} aria-describedby={urlId}>
                Deactivate
              </button>
            ) : (
              <button type="button" class="button small" onClick={() => props.onConfirm('activate')} aria-describedby={urlId}>
                Activate
              </button>
            ))}
          {!readOnly && (
            <button type="button" class="button small danger" onClick={() => props.onConfirm('delete')} aria-describedby={urlId}>
              Delete
            </button>
          )}
        </div>
      </td>
      <td data-label="Health">
        <HealthBadge health={endpoint.health} />
      </td>
      <td data-label="Status">
        <ActiveBadge active={endpoint.active} />
      </td>
      <td data-label="Success rate (24 h)">{formatRate(endpoint.health?.success_rate_24h)}</td>
      <td data-label="Last delivery">
        {endpoint.health?.last_delivery_at ? (
          <time dateTime={endpoint.health.last_delivery_at} title={formatDateTime(endpoint.health.last_delivery_at)}>
            {relativeTime(endpoint.health.last_delivery_at)}
          </time>
        ) : (
          <span class="muted">Never</span>
        )}
      </td>
      <td data-label="Created">
        <time dateTime={endpoint.created_at}>{formatDate(endpoint.created_at)}</time>
      </td>
    </tr>
  );
}

function EndpointConfirmation(props: { confirmation: Confirmation; onConfirm: () => Promise<void>; onClose: () => void }) {
  const { kind, endpoint } = props.confirmation;
  const url = <span class="url">{endpoint.url}</span>;
  const texts = {
    deactivate: {
      title: 'Deactivate this webhook?',
      message: <p>Herald stops sending events to {url}. Events published meanwhile are recorded as failed (endpoint disabled) and can be replayed after you activate it again.</p>,
    },
    activate: { title: 'Activate this webhook?', message: <p>Herald starts sending new events to {url} again.</p> },
    delete: {
      title: 'Delete this webhook?',
      message: <p>Herald stops sending events to {url} and removes it from this list. This cannot be undone; its past deliveries stay in the records.</p>,
    },
  }[kind];
  return <ConfirmDialog title={texts.title} message={texts.message} danger={kind === 'delete'} onConfirm={props.onConfirm} onClose={props.onClose} />;
}

function TestResultPanel(props: { test: TestState; onClose: () => void }) {
  const { endpoint, result, error } = props.test;
  return (
    <section class="panel test-result" aria-label="Test result" aria-busy={!result && !error}>
      <div class="panel-heading">
        <h2>Test event to <span class="url">{endpoint.url}</span></h2>
        <button type="button" class="button small" onClick={props.onClose}>
          Dismiss
        </button>
      </div>
      {!result && !error && <p class="muted">Sending a v1.webhook.test event…</p>}
      {error && <p class="error">{error}</p>}
      {result && (
        <>
          <p class={result.success ? 'result-line ok' : 'result-line failed'}>
            <strong>{result.status_code !== null ? `HTTP ${result.status_code}` : 'No answer'}</strong>
            <span>{result.success ? ' · Success' : ' · Failed'}</span>
            <span> · {result.duration_ms} ms</span>
            {result.error_class && <span> · {result.error_class.replace(/_/g, ' ')}</span>}
          </p>
          {result.error_message && <p class="error-detail">{result.error_message}</p>}
          <div class="two-columns">
            <div>
              <h3>Response headers</h3>
              {result.response_headers !== undefined ? (
                <HeaderList headers={result.response_headers} empty="No response headers" />
              ) : (
                <p class="muted">Not reported by this Herald version.</p>
              )}
            </div>
            <div>
              <h3>Signature headers sent</h3>
              <HeaderList headers={result.signature_headers} empty="None (unsigned profile)" />
            </div>
          </div>
          <h3>Response body (start)</h3>
          {result.response_excerpt ? <pre class="code">{result.response_excerpt}</pre> : <p class="muted">Empty body</p>}
          <p class="muted small">
            Delivery id <span class="mono">{result.delivery_id}</span>, event id <span class="mono">{result.event_id}</span>
          </p>
        </>
      )}
    </section>
  );
}
