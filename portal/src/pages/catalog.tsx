import { useEffect, useId, useState } from 'preact/hooks';
import { allPages, messageOf } from '../api.js';
import { ErrorText, PageHeading } from '../components.js';
import { declaredExample, exampleFromSchema } from '../example.js';
import { formatDate, pretty } from '../format.js';
import type { EventType } from '../types.js';

export function CatalogPage() {
  const [types, setTypes] = useState<EventType[]>();
  const [error, setError] = useState<string>();
  const [filter, setFilter] = useState('');
  const filterId = useId();

  useEffect(() => {
    allPages<EventType>('/v1/event-types')
      .then(setTypes)
      .catch((failure) => setError(messageOf(failure)));
  }, []);

  const needle = filter.trim().toLowerCase();
  const shown = (types ?? []).filter((type) => !needle || type.name.toLowerCase().includes(needle) || type.description.toLowerCase().includes(needle));
  const own = shown.filter((type) => !type.operational);
  const herald = shown.filter((type) => type.operational);

  return (
    <>
      <PageHeading title="Event catalog" />
      <p class="intro">
        Every event type you can subscribe a webhook to, with the JSON Schema of its <span class="mono">data</span> and an example, so you know what you will receive.
      </p>
      <div class="toolbar">
        <div class="field inline grow">
          <label for={filterId}>Filter event types</label>
          <input id={filterId} type="search" value={filter} onInput={(event) => setFilter((event.currentTarget as HTMLInputElement).value)} placeholder="e.g. case" autoComplete="off" />
        </div>
      </div>
      <ErrorText message={error} />
      {!types && !error && <p class="muted">Loading the catalog…</p>}
      {types && shown.length === 0 && <p class="empty">No event types match.</p>}
      {own.length > 0 && (
        <section aria-labelledby={`${filterId}-own`}>
          <h2 id={`${filterId}-own`}>Events</h2>
          {own.map((type) => (
            <EventTypeCard key={type.name} type={type} />
          ))}
        </section>
      )}
      {herald.length > 0 && (
        <section aria-labelledby={`${filterId}-herald`}>
          <h2 id={`${filterId}-herald`}>Herald's notices</h2>
          <p class="muted">Sent by Herald itself, for example when an endpoint is deactivated or a delivery fails for good.</p>
          {herald.map((type) => (
            <EventTypeCard key={type.name} type={type} />
          ))}
        </section>
      )}
    </>
  );
}

function EventTypeCard(props: { type: EventType }) {
  const { type } = props;
  const declared = type.example ?? declaredExample(type.schema);
  const example = declared ?? (type.schema ? exampleFromSchema(type.schema) : undefined);
  return (
    <article class="card event-type" aria-labelledby={`type-${type.name}`}>
      <h3 id={`type-${type.name}`} class="mono">
        {type.name}
        {type.deprecated && <span class="badge badge-warning">Deprecated{type.deprecated_at ? ` since ${formatDate(type.deprecated_at)}` : ''}</span>}
      </h3>
      <p>{type.description || <span class="muted">No description.</span>}</p>
      <div class="two-columns">
        <details open>
          <summary>JSON schema</summary>
          {type.schema ? <pre class="code">{pretty(type.schema)}</pre> : <p class="muted">No schema: any JSON.</p>}
        </details>
        <details open>
          <summary>Example payload{declared === undefined && example !== undefined ? ' (from the schema)' : ''}</summary>
          {example !== undefined ? <pre class="code">{pretty(example)}</pre> : <p class="muted">No example.</p>}
        </details>
      </div>
    </article>
  );
}
