
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { allPages, api, ApiError, fieldError, messageOf, tenantPath } from '../api.js';
import { ErrorText, HeaderList, PageHeading } from '../components.js';
import { ConfirmDialog, SecretDialog } from '../dialog.js';
import { exampleOfType } from '../example.js';
import { durationToSeconds, formatDateTime, secondsToDuration } from '../format.js';
import { useLive } from '../live.js';
import { useSession } from '../session.js';
import type { Endpoint, EventType, PayloadTemplate, RetrySchedule, TemplatePreview } from '../types.js';
import { ReadOnlyNote } from './webhooks.js';

/** Herald's built-in signature profiles (README, "Signature profiles"); a deployment's own profile shows when an endpoint uses it. */
const signatureProfiles: { name: string; description: string }[] = [
  { name: 'standard-webhooks', description: 'Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature); the default' },
  { name: 'timestamped', description: 'X-Herald-Signature: t=…,v1=… over timestamp and body' },
  { name: 'timestamped-body', description: 'X-Herald-Signature: t=…,v1=… over the body only (timestamp not signed)' },
  { name: 'body-hex', description: 'X-Signature: hex HMAC of the body, with X-Client-Id (timestamp not signed)' },
  { name: 'prefixed', description: 'X-Webhook-Signature: sha256=… over timestamp and body' },
  { name: 'unsigned', description: 'No signature: authenticate with a header below' },
];

const envelopes: { name: string; description: string }[] = [
  { name: 'herald', description: 'herald: {event_id, delivery_id, event_type, schema_version, trace_id, created_at, data}; the default' },
  { name: 'compact', description: 'compact: {id, type, created, data}' },
  { name: 'event', description: 'event: {id, type, created_at, data}' },
  { name: 'bare', description: 'bare: the event data only' },
];

const allTypes = '*';
const defaultContentType = 'application/json';

interface FormState {
  url: string;
  description: string;
  active: boolean;
  eventTypes: string[];
  authName: string;
  authValue: string;
  retrySchedule: string;
  timeout: string;
  disableAfterFailures: string;
  profile: string;
  envelope: string;
  /** Off: template null, the envelope above is sent. */
  useTemplate: boolean;
  templateSource: string;
  templateContentType: string;
  templateStrict: boolean;
}

const emptyForm: FormState = {
  url: '',
  description: '',
  active: true,
  eventTypes: [],
  authName: '',
  authValue: '',
  retrySchedule: '',
  timeout: '',
  disableAfterFailures: '',
  profile: 'standard-webhooks',
  envelope: 'herald',
  useTemplate: false,
  templateSource: '',
  templateContentType: defaultContentType,
  templateStrict: true,
};

export function scheduleText(schedule: RetrySchedule | undefined): string {
  if (!schedule) return '';
  if (Array.isArray(schedule)) return schedule.length === 0 ? 'none' : schedule.join(', ');
  return JSON.stringify(schedule);
}

/** "5s, 1m, 10m" → ["5s","1m","10m"]; "none" → []; JSON as is ({"exponential": …}). */
export function parseSchedule(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return trimmed;
    }
  }
  if (/^(none|no retries)$/i.test(trimmed)) return [];
  return trimmed.split(/[\s,]+/).filter(Boolean);
}

function formFromEndpoint(endpoint: Endpoint): FormState {
  const [authName] = Object.keys(endpoint.headers);
  const seconds = durationToSeconds(endpoint.timeout);
  return {
    url: endpoint.url,
    description: endpoint.description,
    active: endpoint.active,
    eventTypes: endpoint.event_types,
    authName: authName ?? '',
    authValue: '',
    retrySchedule: scheduleText(endpoint.retry_schedule),
    timeout: seconds === undefined ? '' : String(seconds),
    disableAfterFailures: String(endpoint.disable_after_failures),
    profile: endpoint.signature.profile,
    envelope: endpoint.envelope,
    useTemplate: Boolean(endpoint.template),
    templateSource: endpoint.template?.source ?? '',
    templateContentType: endpoint.template?.content_type ?? defaultContentType,
    templateStrict: endpoint.template?.strict_variables ?? true,
  };
}

/** The form's template as the API takes it: null when "Use a payload template" is off. */
export function templateOf(form: FormState): PayloadTemplate | null {
  if (!form.useTemplate) return null;
  return { engine: 'liquid', source: form.templateSource, content_type: form.templateContentType.trim() || defaultContentType, strict_variables: form.templateStrict };
}

export function EndpointFormPage() {
  const { params } = useRoute();
  const id = params.id;
  const editing = Boolean(id);
  const { session } = useSession();
  const readOnly = session.read_only;
  const live = useLive();
  const { route } = useLocation();
  const [endpoint, setEndpoint] = useState<Endpoint>();
  const [catalog, setCatalog] = useState<EventType[]>();
  const [form, setForm] = useState<FormState>(emptyForm);
  const [loadError, setLoadError] = useState<string>();
  const [fields, setFields] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const [secret, setSecret] = useState<{ value: string; note?: string; then?: () => void }>();
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const [types, current] = await Promise.all([
          allPages<EventType>('/v1/event-types'),
          id ? api.get<Endpoint>(tenantPath(`/endpoints/${encodeURIComponent(id)}`)) : Promise.resolve(undefined),
        ]);
        if (cancelled) return;
        setCatalog(types);
        if (current) {
          setEndpoint(current);
          setForm(formFromEndpoint(current));
        }
      } catch (error) {
        if (!cancelled) setLoadError(error instanceof ApiError && error.status === 404 ? 'This webhook does not exist (or was deleted).' : messageOf(error));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [id]);

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setForm((current) => ({ ...current, [key]: value }));

  /** The request body: on create every filled field, on edit only what changed. */
  const body = (): Record<string, unknown> => {
    const result: Record<string, unknown> = {};
    const original = endpoint ? formFromEndpoint(endpoint) : undefined;
    const changed = <K extends keyof FormState>(key: K) => !original || JSON.stringify(original[key]) !== JSON.stringify(form[key]);
    if (changed('url')) result.url = form.url.trim();
    if (changed('description')) result.description = form.description;
    if (changed('active')) result.active = form.active;
    if (changed('eventTypes')) result.event_types = form.eventTypes.includes(allTypes) ? [allTypes] : form.eventTypes;
    if (form.retrySchedule.trim() !== '' && changed('retrySchedule')) result.retry_schedule = parseSchedule(form.retrySchedule);
    if (form.timeout.trim() !== '' && changed('timeout')) {
      const seconds = Number(form.timeout);
      result.timeout = Number.isFinite(seconds) && seconds > 0 ? secondsToDuration(seconds) : form.timeout.trim();
    }
    if (form.disableAfterFailures.trim() !== '' && changed('disableAfterFailures')) {
      const count = Number(form.disableAfterFailures);
      result.disable_after_failures = Number.isInteger(count) ? count : form.disableAfterFailures;
    }
    if (changed('profile')) result.signature = { ...(endpoint?.signature ?? {}), profile: form.profile };
    if (changed('envelope')) result.envelope = form.envelope;
    const template = templateOf(form);
    if (original ? JSON.stringify(templateOf(original)) !== JSON.stringify(template) : template !== null) result.template = template;
    // The header value is never shown again, so it is only sent when typed (or the header removed).
    const name = form.authName.trim();
    if (form.authValue !== '' && name) result.headers = { [name]: form.authValue };
    else if (original && !name && original.authName) result.headers = {};
    return result;
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setFields({});
    setFormError(undefined);
    const name = form.authName.trim();
    const local: Record<string, string> = {};
    if (!editing && name && form.authValue === '') local['headers'] = 'Enter the header value too';
    if (editing && name && endpoint && !Object.keys(endpoint.headers).includes(name) && form.authValue === '') local['headers'] = 'Enter the value of the new header';
    if (!name && form.authValue !== '') local['headers'] = 'Enter the header name too';
    if (form.eventTypes.length === 0) local['event_types'] = 'Pick at least one event type, or All event types';
    if (form.useTemplate && form.templateSource.trim() === '') local['template.source'] = 'Enter the template, or untick Use a payload template';
    if (Object.keys(local).length > 0) {
      setFields(local);
      setFormError('Some fields need your attention.');
      focusFirstInvalid();
      return;
    }
    setSaving(true);
    try {
      if (endpoint) {
        const changes = body();
        const saved = Object.keys(changes).length > 0 ? await api.patch<Endpoint>(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}`), changes) : endpoint;
        live.notify(`Webhook ${saved.url} saved`, 'success');
        live.refresh();
        route('/portal/webhooks');
      } else {
        const created = await api.post<Endpoint>(tenantPath('/endpoints'), body());
        live.refresh();
        setSecret({
          value: created.secret,
          then: () => {
            live.notify(`Webhook ${created.url} created`, 'success');
            route('/portal/webhooks');
          },
        });
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        setFields(error.fields);
        setFormError(unplacedMessage(error.fields) ?? 'Some fields need your attention.');
        focusFirstInvalid();
      } else {
        setFormError(messageOf(error));
      }
    } finally {
      setSaving(false);
    }
  };

  const focusFirstInvalid = () => requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());

  const title = editing ? 'Edit webhook' : 'Create webhook';
  if (loadError) {
    return (
      <>
        <PageHeading title={title} />
        <ErrorText message={loadError} />
        <p>
          <a href="/portal/webhooks">Back to webhooks</a>
        </p>
      </>
    );
  }
  if (!catalog || (editing && !endpoint)) {
    return (
      <>
        <PageHeading title={title} />
        <p class="muted">Loading…</p>
      </>
    );
  }

  const errors = {
    url: fieldError(fields, 'url'),
    description: fieldError(fields, 'description'),
    active: fieldError(fields, 'active'),
    eventTypes: fieldError(fields, 'event_types'),
    headers: fieldError(fields, 'headers'),
    retrySchedule: fieldError(fields, 'retry_schedule'),
    timeout: fieldError(fields, 'timeout'),
    disableAfterFailures: fieldError(fields, 'disable_after_failures', 'disable_after'),
    profile: fieldError(fields, 'signature'),
    envelope: fieldError(fields, 'envelope'),
    template: templateError(fields),
    templateSource: fieldError(fields, 'template.source'),
    templateContentType: fieldError(fields, 'template.content_type'),
    templateStrict: fieldError(fields, 'template.strict_variables'),
  };

  return (
    <>
      <PageHeading title={title} />
      {endpoint && (
        <p class="intro">
          <span class="url">{endpoint.url}</span>
        </p>
      )}
      {readOnly && <ReadOnlyNote />}
      <form ref={formRef} class="form" onSubmit={submit} noValidate>
        {formError && (
          <div class="banner banner-danger" role="alert">
            <p>{formError}</p>
          </div>
        )}
        <fieldset class="plain" disabled={readOnly || saving}>
          <TextField label="URL" value={form.url} onInput={(value) => set('url', value)} error={errors.url} inputMode="url" autoComplete="off" required
            hint="Where Herald sends your events (HTTPS). Herald answers with a signed POST request per event." />
          <TextField label="Description" value={form.description} onInput={(value) => set('description', value)} error={errors.description} hint="Optional, for you: what this webhook is for." />
          <CheckboxField label="Active" checked={form.active} onChange={(value) => set('active', value)} error={errors.active}
            hint={editing ? 'Inactive webhooks receive nothing; their events are recorded and can be replayed.' : 'Untick to create it inactive and enable it later.'} />

          <EventTypesField catalog={catalog} selected={form.eventTypes} onChange={(value) => set('eventTypes', value)} error={errors.eventTypes} />

          <fieldset class="group">
            <legend>Authentication header</legend>
            <p class="hint">Optional: a header Herald sends with every request, such as Authorization: Bearer …. The value is stored encrypted and never shown again.</p>
            <div class="field-row">
              <TextField label="Authentication header name" value={form.authName} onInput={(value) => set('authName', value)} error={errors.headers} autoComplete="off" placeholder="Authorization" />
              <TextField
                label="Authentication header value"
                value={form.authValue}
                onInput={(value) => set('authValue', value)}
                autoComplete="off"
                type="password"
                placeholder={endpoint && form.authName && endpoint.headers[form.authName] ? `Saved: ${endpoint.headers[form.authName]}` : 'Bearer …'}
                hint={endpoint && Object.keys(endpoint.headers).length > 0 ? `Saved: ${Object.entries(endpoint.headers).map(([name, value]) => `${name}: ${value}`).join(', ')}. Leave empty to keep it; clear the name to remove it.` : undefined}
              />
            </div>
          </fieldset>

          <fieldset class="group">
            <legend>Delivery</legend>
            <TextField label="Retry schedule" value={form.retrySchedule} onInput={(value) => set('retrySchedule', value)} error={errors.retrySchedule} autoComplete="off" class="mono"
              placeholder="Herald's default" hint='Delays before each retry, e.g. "5s, 1m, 10m, 1h". "none" sends once without retries. Empty keeps the default.' />
            <div class="field-row">
              <TextField label="Timeout (seconds)" value={form.timeout} onInput={(value) => set('timeout', value)} error={errors.timeout} type="number" inputMode="decimal" min="0.001" max="30" step="any"
                placeholder="Default" hint="How long Herald waits for an answer, up to 30 seconds." />
              <TextField label="Deactivate after failed attempts" value={form.disableAfterFailures} onInput={(value) => set('disableAfterFailures', value)} error={errors.disableAfterFailures} type="number" inputMode="numeric" min="1" max="1000" step="1"
                placeholder="Default" hint="Consecutive failed attempts after which Herald deactivates the webhook." />
            </div>
            <div class="field-row">
              <SelectField label="Signature profile" value={form.profile} onChange={(value) => set('profile', value)} error={errors.profile}
                options={[...signatureProfiles, ...(signatureProfiles.some((p) => p.name === form.profile) ? [] : [{ name: form.profile, description: form.profile }])]} />
              <SelectField label="Envelope" value={form.envelope} onChange={(value) => set('envelope', value)} error={errors.envelope} options={envelopes} />
            </div>
            {endpoint?.warnings?.map((warning) => (
              <p class="banner banner-warning" key={warning.code}>
                {warning.message}
              </p>
            ))}
          </fieldset>

          <TemplateSection form={form} set={set} errors={errors} endpoint={endpoint} catalog={catalog} readOnly={readOnly} />

          {!readOnly && (
            <div class="form-actions">
              <button type="submit" class="button primary" disabled={saving}>
                Save
              </button>
              <a href="/portal/webhooks" class="button">
                Cancel
              </a>
            </div>
          )}
        </fieldset>
      </form>

      {endpoint && <SecretSection endpoint={endpoint} readOnly={readOnly} onRotated={(value, note) => setSecret({ value, note })} onChanged={setEndpoint} />}

      {secret && (
        <SecretDialog
          secret={secret.value}
          note={secret.note}
          onClose={() => {
            const then = secret.then;
            setSecret(undefined);
            then?.();
          }}
        />
      )}
    </>
  );
}

/** Issues about fields the form has no place for, as one sentence. */
function unplacedMessage(fields: Record<string, string>): string | undefined {
  const placed = ['url', 'description', 'active', 'event_types', 'headers', 'retry_schedule', 'timeout', 'disable_after_failures', 'disable_after', 'signature', 'envelope', 'template'];
  const rest = Object.entries(fields).filter(([field]) => !placed.some((name) => field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`)));
  return rest.length > 0 ? rest.map(([field, message]) => `${field || 'request'}: ${message}`).join('; ') : undefined;
}

/** Issues about the template as a whole (`template`, `template.engine`), not about one of its fields. */
function templateError(fields: Record<string, string>): string | undefined {
  const own = ['template.source', 'template.content_type', 'template.strict_variables'];
  const messages = Object.entries(fields)
    .filter(([field]) => (field === 'template' || field.startsWith('template.') || field.startsWith('template[')) && !own.some((name) => field === name || field.startsWith(`${name}.`)))
    .map(([, message]) => message);
  return messages.length > 0 ? messages.join('; ') : undefined;
}

/** What a preview is of: a sample of the first subscribed event type, with its example payload from the catalog. */
export function sampleEvent(catalog: EventType[], eventTypes: string[]): { event_type: string; data: unknown } | undefined {
  let type: Pick<EventType, 'name' | 'schema' | 'example'> | undefined;
  if (eventTypes.includes(allTypes)) {
    type = catalog.find((candidate) => !candidate.operational && !candidate.deprecated) ?? catalog[0];
  } else {
    // Catalog order, so the sample does not depend on the order the boxes were ticked in.
    type = catalog.find((candidate) => eventTypes.includes(candidate.name));
    if (!type && eventTypes[0]) type = { name: eventTypes[0], schema: null };
  }
  if (!type) return undefined;
  const example = exampleOfType(type);
  return { event_type: type.name, data: example === undefined ? {} : example };
}

/** A preview's 422 as one sentence, each issue named by the form's label for it. */
function previewProblem(error: ApiError): string {
  const labels: Record<string, string> = {
    'template.source': 'Template (Liquid)',
    'template.content_type': 'Content type',
    'template.strict_variables': 'Fail on missing variables',
    event_id: 'Event id',
  };
  const entries = Object.entries(error.fields);
  if (entries.length === 0) return error.message;
  return entries.map(([field, message]) => (labels[field] ? `${labels[field]}: ${message}` : field === 'body' || field === '' ? message : `${field}: ${message}`)).join('; ');
}

type PreviewState =
  | { status: 'loading' }
  | { status: 'done'; preview: TemplatePreview; of: string; data?: unknown }
  | { status: 'failed'; message: string };

function TemplateSection(props: {
  form: FormState;
  set: <K extends keyof FormState>(key: K, value: FormState[K]) => void;
  errors: { template?: string; templateSource?: string; templateContentType?: string; templateStrict?: string };
  endpoint: Endpoint | undefined;
  catalog: EventType[];
  readOnly: boolean;
}) {
  const { form, set, errors, endpoint } = props;
  const id = useId();
  const [eventId, setEventId] = useState('');
  const [preview, setPreview] = useState<PreviewState>();
  const sequence = useRef(0);

  const runPreview = async () => {
    if (!endpoint) return;
    const mine = ++sequence.current;
    const typed = eventId.trim();
    const sample = typed ? undefined : sampleEvent(props.catalog, props.form.eventTypes.length > 0 ? props.form.eventTypes : endpoint.event_types);
    if (!typed && !sample) {
      setPreview({ status: 'failed', message: 'Pick an event type above, or enter an event id, to preview with.' });
      return;
    }
    setPreview({ status: 'loading' });
    try {
      const request = typed ? { event_id: typed } : sample!;
      const answer = await api.post<TemplatePreview>(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}/template/preview`), { ...request, template: templateOf(form) });
      if (mine !== sequence.current) return;
      setPreview(
        typed
          ? { status: 'done', preview: answer, of: `Event ${answer.event_id}` }
          : { status: 'done', preview: answer, of: `A sample ${sample!.event_type} event with its example payload from the catalog`, data: sample!.data },
      );
    } catch (error) {
      if (mine !== sequence.current) return;
      const message =
        error instanceof ApiError && error.status === 422
          ? previewProblem(error)
          : error instanceof ApiError && error.status === 404 && typed
            ? `No event ${typed} was found for this account.`
            : messageOf(error);
      setPreview({ status: 'failed', message });
    }
  };

  return (
    <fieldset class="group template">
      <legend>Payload template</legend>
      <p class="hint">
        Optional: send your own body instead of the envelope, written in Liquid over the event's fields (event_id, delivery_id, event_type, schema_version, trace_id, created_at and data).
        Write values into JSON with the json filter, e.g. <span class="mono">{'{"text": {{ data.note | json }}}'}</span>. Herald signs the rendered bytes.
      </p>
      <CheckboxField
        label="Use a payload template"
        checked={form.useTemplate}
        onChange={(value) => set('useTemplate', value)}
        error={errors.template}
        hint={form.useTemplate ? 'The template replaces the envelope chosen above.' : 'Off: Herald sends the envelope chosen above.'}
      />
      {form.useTemplate && (
        <>
          <TextAreaField
            label="Template (Liquid)"
            value={form.templateSource}
            onInput={(value) => set('templateSource', value)}
            error={errors.templateSource}
            placeholder={'{"text": "Case {{ data.case_id }} is {{ data.status }}"}'}
            hint="A template that does not compile is refused when you save, with its line and column."
          />
          <div class="field-row">
            <TextField label="Content type" value={form.templateContentType} onInput={(value) => set('templateContentType', value)} error={errors.templateContentType} autoComplete="off" class="mono"
              placeholder={defaultContentType} hint="The Content-Type sent. With a JSON type the rendered body must be valid JSON." />
            <CheckboxField label="Fail on missing variables" checked={form.templateStrict} onChange={(value) => set('templateStrict', value)} error={errors.templateStrict}
              hint="A variable missing from the event fails the delivery instead of rendering as nothing." />
          </div>
        </>
      )}
      {endpoint && !props.readOnly && (
        <div class="template-preview-controls">
          <div class="field grow">
              <label for={`${id}-event`}>Event id (optional)</label>
              <input
                id={`${id}-event`}
                type="text"
                class="mono"
                value={eventId}
                autoComplete="off"
                placeholder="evt_…"
                aria-describedby={`${id}-event-hint`}
                onInput={(event) => setEventId((event.currentTarget as HTMLInputElement).value)}
                onKeyDown={(event) => {
                  // Enter previews rather than saving the form.
                  if (event.key === 'Enter') {
                    event.preventDefault();
                    void runPreview();
                  }
                }}
              />
              <p id={`${id}-event-hint`} class="hint">
                Preview with one of your events; empty uses a sample of the first subscribed event type.
              </p>
          </div>
          <button type="button" class="button" onClick={() => void runPreview()} disabled={preview?.status === 'loading'}>
            Preview
          </button>
        </div>
      )}
      {!endpoint && form.useTemplate && <p class="hint">Once the webhook is saved, Edit previews the template over a sample event.</p>}
      {preview && (
        <section class="panel template-preview" aria-label="Template preview" aria-live="polite" aria-busy={preview.status === 'loading'}>
          <div class="panel-heading">
            <h2>Template preview</h2>
            <button type="button" class="button small" onClick={() => setPreview(undefined)}>
              Dismiss
            </button>
          </div>
          {preview.status === 'loading' && <p class="muted">Rendering…</p>}
          {preview.status === 'failed' && <p class="error">{preview.message}</p>}
          {preview.status === 'done' && (
            <>
              <p class="muted">
                {preview.of}, as it would be sent{form.useTemplate ? '' : ' (no template: the envelope)'}. Nothing was sent.
              </p>
              {preview.data !== undefined && (
                <details>
                  <summary>Sample data</summary>
                  <pre class="code">{JSON.stringify(preview.data, null, 2)}</pre>
                </details>
              )}
              <h3>Headers</h3>
              <HeaderList headers={preview.preview.headers} />
              <h3>Body</h3>
              {preview.preview.body ? <pre class="code">{preview.preview.body}</pre> : <p class="muted">Empty body</p>}
            </>
          )}
        </section>
      )}
    </fieldset>
  );
}

function TextAreaField(props: { label: string; value: string; onInput: (value: string) => void; error?: string; hint?: string; placeholder?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  return (
    <div class={props.error ? 'field has-error' : 'field'}>
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        class="mono"
        rows={8}
        spellcheck={false}
        value={props.value}
        placeholder={props.placeholder}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy([props.error && errorId, props.hint && hintId])}
        onInput={(event) => props.onInput((event.currentTarget as HTMLTextAreaElement).value)}
      />
      <FieldMessages hintId={hintId} errorId={errorId} hint={props.hint} error={props.error} />
    </div>
  );
}

function FieldMessages(props: { hintId: string; errorId: string; hint?: string; error?: string }) {
  return (
    <>
      {props.error && (
        <p id={props.errorId} class="field-error">
          {props.error}
        </p>
      )}
      {props.hint && (
        <p id={props.hintId} class="hint">
          {props.hint}
        </p>
      )}
    </>
  );
}

const describedBy = (ids: (string | false | undefined)[]) => ids.filter(Boolean).join(' ') || undefined;

function TextField(props: {
  label: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  hint?: string;
  type?: 'text' | 'number' | 'password' | 'url';
  placeholder?: string;
  inputMode?: string;
  autoComplete?: string;
  required?: boolean;
  min?: string;
  max?: string;
  step?: string;
  class?: string;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  return (
    <div class={props.error ? 'field has-error' : 'field'}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        type={(props.type ?? 'text') as 'text'}
        class={props.class}
        value={props.value}
        placeholder={props.placeholder}
        inputMode={props.inputMode as never}
        autoComplete={props.autoComplete}
        required={props.required}
        min={props.min}
        max={props.max}
        step={props.step}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy([props.error && errorId, props.hint && hintId])}
        onInput={(event) => props.onInput((event.currentTarget as HTMLInputElement).value)}
      />
      <FieldMessages hintId={hintId} errorId={errorId} hint={props.hint} error={props.error} />
    </div>
  );
}

function CheckboxField(props: { label: string; checked: boolean; onChange: (value: boolean) => void; error?: string; hint?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  return (
    <div class={props.error ? 'field checkbox-field has-error' : 'field checkbox-field'}>
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy([props.error && errorId, props.hint && hintId])}
        onChange={(event) => props.onChange((event.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{props.label}</label>
      <FieldMessages hintId={hintId} errorId={errorId} hint={props.hint} error={props.error} />
    </div>
  );
}

function SelectField(props: { label: string; value: string; onChange: (value: string) => void; options: { name: string; description: string }[]; error?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const hint = props.options.find((option) => option.name === props.value)?.description;
  return (
    <div class={props.error ? 'field has-error' : 'field'}>
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy([props.error && errorId, hint && hintId])}
        onChange={(event) => props.onChange((event.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map((option) => (
          <option key={option.name} value={option.name}>
            {option.name}
          </option>
        ))}
      </select>
      <FieldMessages hintId={hintId} errorId={errorId} hint={hint} error={props.error} />
    </div>
  );
}

function EventTypesField(props: { catalog: EventType[]; selected: string[]; onChange: (value: string[]) => void; error?: string }) {
  const id = useId();
  const errorId = `${id}-error`;
  const all = props.selected.includes(allTypes);
  // Deprecated types are offered only to an endpoint that already has them.
  const types = useMemo(() => props.catalog.filter((type) => !type.deprecated || props.selected.includes(type.name)), [props.catalog]);
  const unknown = props.selected.filter((name) => name !== allTypes && !props.catalog.some((type) => type.name === name));
  const toggle = (name: string, on: boolean) => props.onChange(on ? [...props.selected.filter((n) => n !== name), name] : props.selected.filter((n) => n !== name));
  return (
    <fieldset class={props.error ? 'group event-types has-error' : 'group event-types'} aria-describedby={props.error ? errorId : undefined} aria-invalid={props.error ? 'true' : undefined}>
      <legend>Event types</legend>
      {props.error && (
        <p id={errorId} class="field-error">
          {props.error}
        </p>
      )}
      <div class="checkbox-option all-types">
        <input id={`${id}-all`} type="checkbox" checked={all} onChange={(event) => toggle(allTypes, (event.currentTarget as HTMLInputElement).checked)} aria-describedby={`${id}-all-hint`} />
        <label for={`${id}-all`}>
          <span class="mono">*</span> All event types
        </label>
        <p id={`${id}-all-hint`} class="hint">
          Every type in the catalog, including ones added later.
        </p>
      </div>
      <div class="type-list">
        {types.map((type) => (
          <EventTypeOption key={type.name} type={type} checked={all || props.selected.includes(type.name)} disabled={all} onChange={(on) => toggle(type.name, on)} />
        ))}
        {unknown.map((name) => (
          <EventTypeOption key={name} type={{ name, description: 'Not in the catalog any more', deprecated: true } as EventType} checked disabled={all} onChange={(on) => toggle(name, on)} />
        ))}
      </div>
    </fieldset>
  );
}

function EventTypeOption(props: { type: EventType; checked: boolean; disabled: boolean; onChange: (on: boolean) => void }) {
  const id = useId();
  const { type } = props;
  return (
    <div class="checkbox-option">
      <input id={id} type="checkbox" checked={props.checked} disabled={props.disabled} aria-describedby={`${id}-description`} onChange={(event) => props.onChange((event.currentTarget as HTMLInputElement).checked)} />
      <label for={id} class="mono">
        {type.name}
      </label>
      <p id={`${id}-description`} class="hint">
        {type.description || 'No description'}
        {type.deprecated && ' (deprecated)'}
        {type.operational && ' (a Herald notice)'}
      </p>
    </div>
  );
}

function SecretSection(props: { endpoint: Endpoint; readOnly: boolean; onRotated: (secret: string, note: string) => void; onChanged: (endpoint: Endpoint) => void }) {
  const { endpoint } = props;
  const graceId = useId();
  const [grace, setGrace] = useState('24h');
  const [confirming, setConfirming] = useState(false);
  const [graceError, setGraceError] = useState<string>();
  const rotate = async () => {
    setGraceError(undefined);
    try {
      const rotated = await api.post<{ secret: string; previous_secret_expires_at: string }>(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}/rotate-secret`), { grace_period: grace.trim() });
      const fresh = await api.get<Endpoint>(tenantPath(`/endpoints/${encodeURIComponent(endpoint.id)}`));
      props.onChanged(fresh);
      props.onRotated(rotated.secret, `Until ${formatDateTime(rotated.previous_secret_expires_at)}, Herald signs with both the previous secret and this one.`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        setGraceError(fieldError(error.fields, 'grace_period', 'secret') ?? error.message);
        return;
      }
      throw error;
    }
  };
  return (
    <section class="panel" aria-labelledby={`${graceId}-heading`}>
      <h2 id={`${graceId}-heading`}>Signing secret</h2>
      <p>
        Current secret: <span class="mono secret-masked">{endpoint.secret}</span>
      </p>
      {!props.readOnly && (
        <div class="rotate-form">
          <div class={graceError ? 'field has-error' : 'field'}>
            <label for={graceId}>Grace period</label>
            <input
              id={graceId}
              type="text"
              class="mono"
              value={grace}
              aria-invalid={graceError ? 'true' : undefined}
              aria-describedby={describedBy([graceError && `${graceId}-error`, `${graceId}-hint`])}
              onInput={(event) => setGrace((event.currentTarget as HTMLInputElement).value)}
            />
            {graceError && (
              <p id={`${graceId}-error`} class="field-error">
                {graceError}
              </p>
            )}
            <p id={`${graceId}-hint`} class="hint">
              How long the current secret keeps signing next to the new one (e.g. 24h, 7d; 0s ends it now).
            </p>
          </div>
          <button type="button" class="button" onClick={() => setConfirming(true)}>
            Rotate secret
          </button>
        </div>
      )}
      {confirming && (
        <ConfirmDialog
          title="Rotate the signing secret?"
          message={<p>Herald creates a new secret and shows it once. The current one keeps signing for {grace.trim() || 'the grace period'}, so update your receiver before then.</p>}
          onConfirm={rotate}
          onClose={() => setConfirming(false)}
        />
      )}
    </section>
  );
}

