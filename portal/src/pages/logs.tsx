import { useEffect, useId, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { allPages, api, ApiError, fieldError, messageOf, query, tenantPath } from '../api.js';
import { ErrorText, HeaderList, HealthBadge, PageHeading, Pagination, StatusBadge, usePolling } from '../components.js';
import { deliveryStatusWords, formatDateTime, inFlight, pretty, relativeTime } from '../format.js';
import { useLive } from '../live.js';
import { useSession } from '../session.js';
import type { Attempt, Delivery, DeliveryStatus, DeliveryWithAttempts, Endpoint, EventType, Page, Recovery, SentRequest } from '../types.js';

const pageSize = 20;
const liveIntervalMs = 2000;
const idleIntervalMs = 3000;
const statuses: DeliveryStatus[] = ['pending', 'delivering', 'retrying', 'delivered', 'failed'];

type Search = { kind: 'none' } | { kind: 'delivery'; id: string } | { kind: 'event'; id: string };

/** A delivery id (whd_…) is looked up directly; anything else is an event id (evt_…). */
export function parseSearch(text: string): Search {
  const value = text.trim();
  if (!value) return { kind: 'none' };
  return value.startsWith('whd_') ? { kind: 'delivery', id: value } : { kind: 'event', id: value };
}

/** `datetime-local` value for a date, in the browser's time zone. */
function localInputValue(date: Date): string {
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

export function LogsPage() {
  const { params } = useRoute();
  const endpointId = params.id!;
  const { session } = useSession();
  const readOnly = session.read_only;
  const live = useLive();
  const [endpoint, setEndpoint] = useState<Endpoint>();
  const [types, setTypes] = useState<string[]>([]);
  const [status, setStatus] = useState<string>('');
  const [eventType, setEventType] = useState<string>('');
  const [draft, setDraft] = useState('');
  const [search, setSearch] = useState<Search>({ kind: 'none' });
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<{ rows: Delivery[]; next: string | null; note?: string }>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<string>();
  const [action, setAction] = useState<{ text: string; tone: 'ok' | 'error' }>();
  const [busy, setBusy] = useState<string>();
  const ids = useId();

  const endpointPath = tenantPath(`/endpoints/${encodeURIComponent(endpointId)}`);
  useEffect(() => {
    let cancelled = false;
    api
      .get<Endpoint>(endpointPath)
      .then((found) => !cancelled && setEndpoint(found))
      .catch((failure) => !cancelled && setError(failure instanceof ApiError && failure.status === 404 ? 'This webhook does not exist (or was deleted).' : messageOf(failure)));
    return () => {
      cancelled = true;
    };
  }, [endpointId, live.version]);

  useEffect(() => {
    if (!endpoint) return;
    if (!endpoint.event_types.includes('*')) {
      setTypes([...endpoint.event_types].sort());
      return;
    }
    allPages<EventType>('/v1/event-types')
      .then((catalog) => setTypes(catalog.map((type) => type.name)))
      .catch(() => setTypes([]));
  }, [endpoint?.event_types.join(',')]);

  const cursor = cursors[cursors.length - 1];
  const load = async () => {
    try {
      if (search.kind === 'delivery') {
        try {
          const found = await api.get<Delivery>(tenantPath(`/deliveries/${encodeURIComponent(search.id)}`));
          setPage(found.endpoint_id === endpointId ? { rows: [found], next: null } : { rows: [], next: null, note: `Delivery ${search.id} belongs to another webhook.` });
        } catch (failure) {
          if (failure instanceof ApiError && failure.status === 404) setPage({ rows: [], next: null, note: `No delivery ${search.id}.` });
          else throw failure;
        }
      } else {
        const answer = await api.get<Page<Delivery>>(
          tenantPath(
            `/deliveries${query({ endpoint_id: endpointId, status, event_type: eventType, event_id: search.kind === 'event' ? search.id : undefined, limit: pageSize, cursor })}`,
          ),
        );
        setPage({ rows: answer.data, next: answer.next_cursor });
      }
      setError(undefined);
    } catch (failure) {
      setError(messageOf(failure));
    }
  };

  useEffect(() => {
    void load();
  }, [endpointId, status, eventType, search, cursor]);
  const anyInFlight = page?.rows.some((delivery) => inFlight(delivery.status)) ?? false;
  usePolling(load, anyInFlight ? liveIntervalMs : idleIntervalMs, [endpointId, status, eventType, search, cursor]);

  const resetPaging = () => setCursors([undefined]);

  const replay = async (delivery: Delivery) => {
    setBusy(delivery.id);
    setAction(undefined);
    try {
      const replayed = await api.post<{ delivery_id: string }>(tenantPath(`/deliveries/${encodeURIComponent(delivery.id)}/replay`), {});
      setAction({ text: `Replay of ${delivery.id} started as delivery ${replayed.delivery_id}.`, tone: 'ok' });
      if (cursors.length === 1 && search.kind === 'none') await load();
    } catch (failure) {
      setAction({ text: `Replay of ${delivery.id} failed: ${messageOf(failure)}`, tone: 'error' });
    } finally {
      setBusy(undefined);
    }
  };

  const retryNow = async (delivery: Delivery) => {
    setBusy(delivery.id);
    setAction(undefined);
    try {
      const outcome = await api.post<{ attempt: number; status_code: number | null; status: DeliveryStatus; error?: string }>(
        tenantPath(`/deliveries/${encodeURIComponent(delivery.id)}/retry`),
        {},
      );
      const answer = outcome.status_code !== null ? `HTTP ${outcome.status_code}` : (outcome.error ?? 'no answer');
      setAction({ text: `Attempt ${outcome.attempt} of ${delivery.id}: ${answer}; now ${deliveryStatusWords[outcome.status].toLowerCase()}.`, tone: outcome.status === 'delivered' ? 'ok' : 'error' });
      await load();
    } catch (failure) {
      setAction({ text: `Retry of ${delivery.id} failed: ${messageOf(failure)}`, tone: 'error' });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <PageHeading title="Logs" />
      <p class="breadcrumbs">
        <a href="/portal/webhooks">Webhooks</a> <span aria-hidden="true">›</span> <span class="url">{endpoint?.url ?? endpointId}</span>
      </p>
      {endpoint && (
        <div class="endpoint-summary">
          <HealthBadge health={endpoint.health} />
          <span class={endpoint.active ? 'pill pill-active' : 'pill pill-inactive'}>{endpoint.active ? 'Active' : 'Inactive'}</span>
          {!endpoint.active && endpoint.disabled_at && <span class="muted">since {formatDateTime(endpoint.disabled_at)}</span>}
        </div>
      )}

      {!readOnly && endpoint && <RecoverPanel endpoint={endpoint} onStarted={() => void load()} />}

      <form
        class="toolbar filters"
        role="search"
        aria-label="Filter deliveries"
        onSubmit={(event) => {
          event.preventDefault();
          setSearch(parseSearch(draft));
          resetPaging();
        }}
      >
        <div class="field inline">
          <label for={`${ids}-status`}>Status</label>
          <select
            id={`${ids}-status`}
            value={status}
            onChange={(event) => {
              setStatus((event.currentTarget as HTMLSelectElement).value);
              resetPaging();
            }}
          >
            <option value="">All</option>
            {statuses.map((value) => (
              <option key={value} value={value}>
                {deliveryStatusWords[value]}
              </option>
            ))}
          </select>
        </div>
        <div class="field inline">
          <label for={`${ids}-type`}>Event type</label>
          <select
            id={`${ids}-type`}
            value={eventType}
            onChange={(event) => {
              setEventType((event.currentTarget as HTMLSelectElement).value);
              resetPaging();
            }}
          >
            <option value="">All</option>
            {types.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div class="field inline grow">
          <label for={`${ids}-search`}>Search by event or delivery id</label>
          <div class="search-row">
            <input id={`${ids}-search`} type="search" class="mono" value={draft} placeholder="evt_… or whd_…" autoComplete="off" onInput={(event) => setDraft((event.currentTarget as HTMLInputElement).value)} />
            <button type="submit" class="button">
              Search
            </button>
            {search.kind !== 'none' && (
              <button
                type="button"
                class="button"
                onClick={() => {
                  setDraft('');
                  setSearch({ kind: 'none' });
                  resetPaging();
                }}
              >
                Clear search
              </button>
            )}
          </div>
        </div>
      </form>

      {action && (
        <p class={action.tone === 'ok' ? 'banner banner-success' : 'banner banner-danger'} role={action.tone === 'ok' ? 'status' : 'alert'}>
          {action.text}
        </p>
      )}
      <ErrorText message={error} />

      {!page ? (
        <p class="muted">Loading deliveries…</p>
      ) : page.rows.length === 0 ? (
        <div class="empty">
          <p>{page.note ?? (status || eventType || search.kind !== 'none' ? 'No deliveries match these filters.' : 'No deliveries yet. Publish an event this webhook subscribes to, or send a test event.')}</p>
        </div>
      ) : (
        <div class="table-wrap">
          <table class="table responsive deliveries-table">
            <caption class="visually-hidden">Deliveries to this webhook, newest first{anyInFlight ? ', updating live' : ''}</caption>
            <thead>
              <tr>
                <th scope="col">Delivery</th>
                <th scope="col">Event type</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((delivery) => (
                <DeliveryRow
                  key={delivery.id}
                  delivery={delivery}
                  open={open === delivery.id}
                  readOnly={readOnly}
                  busy={busy === delivery.id}
                  onToggle={() => setOpen(open === delivery.id ? undefined : delivery.id)}
                  onReplay={() => void replay(delivery)}
                  onRetry={() => void retryNow(delivery)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}

      {search.kind !== 'delivery' && (
        <Pagination label="Pages of deliveries" cursors={cursors} next={page?.next} onChange={setCursors} />
      )}
    </>
  );
}

function DeliveryRow(props: { delivery: Delivery; open: boolean; readOnly: boolean; busy: boolean; onToggle: () => void; onReplay: () => void; onRetry: () => void }) {
  const { delivery } = props;
  const panelId = useId();
  const idId = useId();
  const running = inFlight(delivery.status);
  return (
    <>
      <tr class={props.open ? 'row-open' : ''}>
        <td data-label="Delivery" class="mono">
          <span id={idId}>{delivery.id}</span>
          {delivery.replay_of && <span class="description">replay of {delivery.replay_of}</span>}
        </td>
        <td data-label="Event type" class="mono">
          {delivery.event_type}
        </td>
        <td data-label="Status">
          <StatusBadge status={delivery.status} />
          {delivery.status === 'retrying' && delivery.next_attempt_at && (
            <span class="description">
              next retry <time dateTime={delivery.next_attempt_at}>{relativeTime(delivery.next_attempt_at)}</time>
            </span>
          )}
          {delivery.status === 'failed' && delivery.failure_reason && <span class="description">{delivery.failure_reason.replace(/_/g, ' ')}</span>}
        </td>
        <td data-label="Attempts">
          {delivery.attempts} of {delivery.max_attempts}
        </td>
        <td data-label="Last answer">
          {delivery.last_status_code !== null ? `HTTP ${delivery.last_status_code}` : delivery.last_error ? <span class="error-detail">{delivery.last_error}</span> : <span class="muted">—</span>}
        </td>
        <td data-label="Created">
          <time dateTime={delivery.created_at}>{formatDateTime(delivery.created_at)}</time>
        </td>
        <td class="cell-actions">
          <div class="actions">
            <button type="button" class="button small" aria-expanded={props.open} aria-controls={panelId} aria-describedby={idId} onClick={props.onToggle}>
              Details
            </button>
            {!props.readOnly && !running && (
              <button type="button" class="button small" onClick={props.onReplay} disabled={props.busy} aria-describedby={idId}>
                Replay
              </button>
            )}
            {!props.readOnly && delivery.status === 'retrying' && (
              <button type="button" class="button small" onClick={props.onRetry} disabled={props.busy} aria-describedby={idId}>
                Retry now
              </button>
            )}
          </div>
        </td>
      </tr>
      {props.open && (
        <tr class="details-row">
          <td colSpan={7} id={panelId}>
            <DeliveryDetails id={delivery.id} version={`${delivery.status}:${delivery.attempts}:${delivery.updated_at}`} />
          </td>
        </tr>
      )}
    </>
  );
}

function DeliveryDetails(props: { id: string; version: string }) {
  const [delivery, setDelivery] = useState<DeliveryWithAttempts>();
  const [request, setRequest] = useState<{ sent?: SentRequest; missing?: string }>();
  const [error, setError] = useState<string>();
  const path = tenantPath(`/deliveries/${encodeURIComponent(props.id)}`);

  const loadDelivery = async () => {
    try {
      setDelivery(await api.get<DeliveryWithAttempts>(path));
      setError(undefined);
    } catch (failure) {
      setError(messageOf(failure));
    }
  };
  const loadRequest = async () => {
    try {
      setRequest({ sent: await api.get<SentRequest>(`${path}/request`) });
    } catch (failure) {
      setRequest({ missing: failure instanceof ApiError && failure.status === 404 ? 'Not recorded yet: the request is shown once an attempt was made.' : messageOf(failure) });
    }
  };
  useEffect(() => {
    void loadDelivery();
    void loadRequest();
  }, [props.id, props.version]);
  usePolling(loadDelivery, delivery && inFlight(delivery.status) ? liveIntervalMs : 0, [props.id]);

  if (error && !delivery) return <ErrorText message={error} />;
  if (!delivery) return <p class="muted">Loading delivery…</p>;
  const running = inFlight(delivery.status);
  return (
    <div class="details" aria-live="off">
      <h3>Delivery {delivery.id}</h3>
      <dl class="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={delivery.status} />
            {delivery.live && <span class="badge badge-live">Live</span>}
          </dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>
            {delivery.attempts} of {delivery.max_attempts}
          </dd>
        </div>
        {running && (
          <div>
            <dt>Next retry</dt>
            <dd>{delivery.next_attempt_at ? `${formatDateTime(delivery.next_attempt_at)} (${relativeTime(delivery.next_attempt_at)})` : delivery.status === 'delivering' ? 'Attempting now' : '—'}</dd>
          </div>
        )}
        <div>
          <dt>Last answer</dt>
          <dd>{delivery.last_status_code !== null ? `HTTP ${delivery.last_status_code}` : '—'}</dd>
        </div>
        <div>
          <dt>Last error</dt>
          <dd class={delivery.last_error ? 'error-detail' : undefined}>{delivery.last_error ?? 'None'}</dd>
        </div>
        {delivery.failure_reason && (
          <div>
            <dt>Failure reason</dt>
            <dd>{delivery.failure_reason.replace(/_/g, ' ')}</dd>
          </div>
        )}
        <div>
          <dt>Event</dt>
          <dd class="mono">{delivery.event_id}</dd>
        </div>
        {delivery.completed_at && (
          <div>
            <dt>Completed</dt>
            <dd>{formatDateTime(delivery.completed_at)}</dd>
          </div>
        )}
      </dl>

      <h4>Attempts</h4>
      <AttemptsTable attempts={delivery.attempts_log} />

      <h4>Request as sent</h4>
      {!request ? (
        <p class="muted">Loading…</p>
      ) : request.missing ? (
        <p class="muted">{request.missing}</p>
      ) : (
        <SentRequestView sent={request.sent!} />
      )}
    </div>
  );
}

function AttemptsTable(props: { attempts: Attempt[] }) {
  if (props.attempts.length === 0) return <p class="muted">No attempt yet.</p>;
  const attempts = [...props.attempts].sort((a, b) => b.attempt - a.attempt || b.started_at.localeCompare(a.started_at));
  return (
    <div class="table-wrap">
      <table class="table compact responsive attempts-table">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Time</th>
            <th scope="col">Status code</th>
            <th scope="col">Duration</th>
            <th scope="col">Error class</th>
            <th scope="col">Response excerpt</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((attempt) => (
            <tr key={`${attempt.attempt}-${attempt.started_at}`} class={attempt.success ? 'attempt-ok' : 'attempt-failed'}>
              <td data-label="#">{attempt.attempt}</td>
              <td data-label="Time">
                <time dateTime={attempt.started_at}>{formatDateTime(attempt.started_at)}</time>
              </td>
              <td data-label="Status code">{attempt.status_code ?? '—'}</td>
              <td data-label="Duration">{attempt.duration_ms} ms</td>
              <td data-label="Error class">{attempt.error_class ? attempt.error_class.replace(/_/g, ' ') : attempt.success ? 'None' : '—'}</td>
              <td data-label="Response excerpt">
                {attempt.error_message && <span class="error-detail">{attempt.error_message}</span>}
                {attempt.response_body ? <pre class="code excerpt">{attempt.response_body.slice(0, 600)}</pre> : <span class="muted">Empty</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The body formatted, when it is JSON (the exact bytes are shown too). */
function formattedJson(body: string): string | undefined {
  try {
    const formatted = JSON.stringify(JSON.parse(body), null, 2);
    return formatted === body ? undefined : formatted;
  } catch {
    return undefined;
  }
}

function SentRequestView(props: { sent: SentRequest }) {
  const { sent } = props;
  const body = sent.body === undefined || sent.body === null ? undefined : typeof sent.body === 'string' ? sent.body : pretty(sent.body);
  const formatted = body === undefined ? undefined : formattedJson(body);
  return (
    <div class="sent-request">
      {(sent.method || sent.url) && (
        <p class="mono request-line">
          {sent.method ?? 'POST'} {sent.url}
        </p>
      )}
      {sent.signed_at && <p class="muted small">Signed at {formatDateTime(sent.signed_at)}</p>}
      <HeaderList headers={sent.headers} />
      {body === undefined || body === '' ? (
        <p class="muted">No body</p>
      ) : (
        <>
          <pre class="code" aria-label="Body as sent">
            {body}
          </pre>
          {formatted && (
            <details>
              <summary>Formatted JSON</summary>
              <pre class="code">{formatted}</pre>
            </details>
          )}
        </>
      )}
    </div>
  );
}

function RecoverPanel(props: { endpoint: Endpoint; onStarted: () => void }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const [since, setSince] = useState(() => localInputValue(new Date(Date.now() - 86_400_000)));
  const [fieldMessage, setFieldMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const [recovery, setRecovery] = useState<Recovery & { recovery_id?: string }>();
  const [recoveryId, setRecoveryId] = useState<string>();
  const [starting, setStarting] = useState(false);

  const poll = async () => {
    if (!recoveryId) return;
    const found = await api.get<Recovery>(tenantPath(`/endpoints/${encodeURIComponent(props.endpoint.id)}/recoveries/${encodeURIComponent(recoveryId)}`));
    setRecovery(found);
    if (found.status === 'completed') props.onStarted();
  };
  usePolling(poll, recoveryId && recovery?.status !== 'completed' ? 1000 : 0, [recoveryId]);

  const start = async (event: Event) => {
    event.preventDefault();
    setFieldMessage(undefined);
    setError(undefined);
    const date = new Date(since);
    if (!since || Number.isNaN(date.getTime())) {
      setFieldMessage('Enter a date and time');
      return;
    }
    setStarting(true);
    try {
      const started = await api.post<{ recovery_id: string; count: number }>(tenantPath(`/endpoints/${encodeURIComponent(props.endpoint.id)}/recover`), { since: date.toISOString() });
      setRecoveryId(started.recovery_id);
      setRecovery({ id: started.recovery_id, status: 'running', total: started.count, replayed: 0, remaining: started.count, since: date.toISOString(), until: new Date().toISOString(), finished_at: null });
      props.onStarted();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 422) setFieldMessage(fieldError(failure.fields, 'since', 'until') ?? failure.message);
      else setError(messageOf(failure));
    } finally {
      setStarting(false);
    }
  };

  return (
    <section class="panel recover" aria-labelledby={`${id}-heading`}>
      <div class="panel-heading">
        <h2 id={`${id}-heading`} class="visually-hidden">
          Recover failed deliveries
        </h2>
        <button type="button" class="button" aria-expanded={open} aria-controls={`${id}-form`} onClick={() => setOpen(!open)}>
          Recover failed since…
        </button>
        <span class="hint">Sends every failed delivery of this webhook again, for example after your receiver was down.</span>
      </div>
      {open && (
        <form id={`${id}-form`} class="recover-form" onSubmit={start} noValidate>
          <div class={fieldMessage ? 'field inline has-error' : 'field inline'}>
            <label for={`${id}-since`}>Since</label>
            <input
              id={`${id}-since`}
              type="datetime-local"
              value={since}
              aria-invalid={fieldMessage ? 'true' : undefined}
              aria-describedby={fieldMessage ? `${id}-since-error` : undefined}
              onInput={(event) => setSince((event.currentTarget as HTMLInputElement).value)}
            />
            {fieldMessage && (
              <p id={`${id}-since-error`} class="field-error">
                {fieldMessage}
              </p>
            )}
          </div>
          <button type="submit" class="button primary" disabled={starting || recovery?.status === 'running'}>
            Start recovery
          </button>
        </form>
      )}
      <ErrorText message={error} />
      {recovery && (
        <div class="recovery-progress">
          <label for={`${id}-progress`}>{recovery.status === 'completed' ? 'Recovery finished' : 'Recovery in progress'}</label>
          <progress id={`${id}-progress`} max={Math.max(recovery.total, 1)} value={recovery.total === 0 ? 1 : recovery.replayed} aria-valuetext={`${recovery.replayed} of ${recovery.total} replayed`} />
          <p class="muted" aria-live="polite">
            {recovery.total === 0 ? 'No failed deliveries in that window: nothing to replay.' : `${recovery.replayed} of ${recovery.total} deliveries replayed${recovery.status === 'completed' ? '.' : '…'}`}
          </p>
        </div>
      )}
    </section>
  );
}
