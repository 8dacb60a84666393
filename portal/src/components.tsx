import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { deliveryStatusWords, healthExplanations, healthWords } from './format.js';
import type { DeliveryStatus, EndpointHealth } from './types.js';

/** The page's h1 (focused after navigation) and the document title. */
export function PageHeading(props: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Webhooks`;
  }, [props.title]);
  return (
    <div class="page-heading">
      <h1 tabIndex={-1}>{props.title}</h1>
      {props.children && <div class="page-actions">{props.children}</div>}
    </div>
  );
}

/** The health colour, always with its word (and the reason in smaller text). */
export function HealthBadge(props: { health: EndpointHealth | undefined }) {
  const health = props.health;
  if (!health) return <span class="muted">Unknown</span>;
  const detail =
    health.status === 'healthy'
      ? healthExplanations.healthy
      : health.consecutive_failures > 0
        ? `${health.consecutive_failures} failed in a row`
        : healthExplanations[health.status];
  return (
    <span class={`health health-${health.status}`}>
      <span class="health-dot" aria-hidden="true" />
      <span class="health-word">{healthWords[health.status]}</span>
      <span class="health-detail">{detail}</span>
    </span>
  );
}

export function StatusBadge(props: { status: DeliveryStatus }) {
  return (
    <span class={`status status-${props.status}`}>
      <span class="status-icon" aria-hidden="true" />
      {deliveryStatusWords[props.status] ?? props.status}
    </span>
  );
}

export function ActiveBadge(props: { active: boolean }) {
  return <span class={props.active ? 'pill pill-active' : 'pill pill-inactive'}>{props.active ? 'Active' : 'Inactive'}</span>;
}

export function ErrorText(props: { message: string | undefined }) {
  if (!props.message) return null;
  return (
    <p class="error" role="alert">
      {props.message}
    </p>
  );
}

/**
 * Calls `tick` now and then every `intervalMs` (0 pauses), never two at once; `deps` restart it.
 * The latest `tick` is always the one called.
 */
export function usePolling(tick: () => Promise<void> | void, intervalMs: number, deps: unknown[] = []) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (intervalMs <= 0) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        await latest.current();
      } catch {
        // The next tick tries again.
      }
      if (!stopped) timer = setTimeout(run, intervalMs);
    };
    timer = setTimeout(run, intervalMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [intervalMs, ...deps]);
}

/** A headers map, or list of pairs, as a definition list of text. */
export function HeaderList(props: { headers: Record<string, string> | [string, string][] | null | undefined; empty?: string }) {
  const entries = Array.isArray(props.headers) ? props.headers : Object.entries(props.headers ?? {});
  if (entries.length === 0) return <p class="muted">{props.empty ?? 'No headers'}</p>;
  return (
    <dl class="header-list">
      {entries.map(([name, value], index) => (
        <div key={`${name}-${index}`} class="header-row">
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Previous / next over cursor pages: `cursors` holds the cursor of every page so far (undefined for the first). */
export function Pagination(props: { label: string; cursors: (string | undefined)[]; next: string | null | undefined; onChange: (cursors: (string | undefined)[]) => void }) {
  const { cursors, next, onChange } = props;
  return (
    <nav class="pagination" aria-label={props.label}>
      <button type="button" class="button" disabled={cursors.length <= 1} onClick={() => onChange(cursors.slice(0, -1))}>
        Previous page
      </button>
      <span class="muted">Page {cursors.length}</span>
      <button type="button" class="button" disabled={!next} onClick={() => next && onChange([...cursors, next])}>
        Next page
      </button>
    </nav>
  );
}
