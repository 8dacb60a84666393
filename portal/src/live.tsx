import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { allPages, api, query, tenantPath } from './api.js';
import { reasonText } from './format.js';
import type { Delivery, Endpoint, Page } from './types.js';

/**
 * What changes without a reload: every endpoint of the tenant (for the deactivated banner and the Webhooks page) and
 * the operational notices ("Endpoint … was deactivated", "Delivery … failed"), polled every few seconds, plus the
 * notices the pages add themselves. The notices are read out by a polite live region at the top of every page.
 */

export interface Notice {
  id: number;
  text: string;
  tone: 'info' | 'warning' | 'error' | 'success';
  at: Date;
}

interface LiveState {
  endpoints: Endpoint[] | undefined;
  /** Bumped whenever the endpoint snapshot changes: pages refetch what they show. */
  version: number;
  notices: Notice[];
  notify: (text: string, tone?: Notice['tone']) => void;
  dismissAll: () => void;
  refresh: () => void;
}

const LiveContext = createContext<LiveState>({
  endpoints: undefined,
  version: 0,
  notices: [],
  notify: () => {},
  dismissAll: () => {},
  refresh: () => {},
});

export const useLive = () => useContext(LiveContext);

export const pollIntervalMs = 3000;
const maxNotices = 6;

/** What matters of an endpoint for "did it change": activation, health and the last delivery. */
const fingerprint = (endpoints: Endpoint[]) =>
  endpoints.map((e) => `${e.id}:${e.active}:${e.disabled_reason}:${e.health?.status}:${e.health?.last_delivery_at}:${e.health?.success_rate_24h}:${e.updated_at}`).join('|');

export function LiveProvider(props: { children: ComponentChildren }) {
  const [endpoints, setEndpoints] = useState<Endpoint[]>();
  const [version, setVersion] = useState(0);
  const [notices, setNotices] = useState<Notice[]>([]);
  const nextId = useRef(1);
  const previous = useRef<{ endpoints?: Map<string, Endpoint>; failed?: Set<string>; fingerprint?: string }>({});
  const pollNow = useRef<() => void>(() => {});

  const notify = useCallback((text: string, tone: Notice['tone'] = 'info') => {
    setNotices((list) => [{ id: nextId.current++, text, tone, at: new Date() }, ...list.filter((notice) => notice.text !== text)].slice(0, maxNotices));
  }, []);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let again = false;
    const poll = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      clearTimeout(timer);
      try {
        const [list, failed] = await Promise.all([
          allPages<Endpoint>(tenantPath('/endpoints'), 10),
          api.get<Page<Delivery>>(tenantPath(`/deliveries${query({ status: 'failed', limit: 25 })}`)),
        ]);
        if (stopped) return;
        const byId = new Map(list.map((endpoint) => [endpoint.id, endpoint]));
        const before = previous.current;
        if (before.endpoints) {
          for (const endpoint of list) {
            const old = before.endpoints.get(endpoint.id);
            if (!old) continue;
            if (old.active && !endpoint.active) {
              notify(`Endpoint ${endpoint.url} was deactivated: ${reasonText(endpoint.disabled_reason, endpoint.health?.consecutive_failures)}`, 'warning');
            } else if (!old.active && endpoint.active) {
              notify(`Endpoint ${endpoint.url} was re-enabled`, 'success');
            }
          }
        }
        if (before.failed) {
          for (const delivery of failed.data) {
            if (before.failed.has(delivery.id)) continue;
            const url = byId.get(delivery.endpoint_id)?.url;
            const why = delivery.failure_reason ? ` (${delivery.failure_reason.replace(/_/g, ' ')})` : '';
            notify(`Delivery ${delivery.id} failed${why}${url ? ` for ${url}` : ''}`, 'error');
          }
        }
        const print = fingerprint(list);
        previous.current = { endpoints: byId, failed: new Set([...(before.failed ?? []), ...failed.data.map((delivery) => delivery.id)]), fingerprint: print };
        setEndpoints(list);
        if (print !== before.fingerprint) setVersion((value) => value + 1);
      } catch {
        // A failed poll is retried on the next tick; a 401 ends the session through the API client.
      } finally {
        running = false;
      }
      if (stopped) return;
      if (again) {
        again = false;
        return poll();
      }
      timer = setTimeout(poll, pollIntervalMs);
    };
    pollNow.current = () => void poll();
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [notify]);

  const value = useMemo<LiveState>(
    () => ({ endpoints, version, notices, notify, dismissAll: () => setNotices([]), refresh: () => pollNow.current() }),
    [endpoints, version, notices, notify],
  );
  return <LiveContext.Provider value={value}>{props.children}</LiveContext.Provider>;
}

/** The polite live region at the top of every page. */
export function NoticeRegion() {
  const { notices, dismissAll } = useLive();
  return (
    <div class="notices">
      <div role="status" aria-live="polite" aria-label="Notices" class="notice-list">
        {notices.map((notice) => (
          <p key={notice.id} class={`notice notice-${notice.tone}`}>
            <span class="notice-time">{notice.at.toLocaleTimeString()}</span> {notice.text}
          </p>
        ))}
      </div>
      {notices.length > 0 && (
        <button type="button" class="button small link-like" onClick={dismissAll}>
          Clear notices
        </button>
      )}
    </div>
  );
}
