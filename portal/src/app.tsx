import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { api, ApiError, setSessionCredentials } from './api.js';
import { LiveProvider, NoticeRegion } from './live.js';
import { bootstrapSession, SessionContext, useSession, type Bootstrap, type SessionState } from './session.js';
import { WebhooksPage } from './pages/webhooks.js';
import { EndpointFormPage } from './pages/endpoint-form.js';
import { LogsPage } from './pages/logs.js';
import { CatalogPage } from './pages/catalog.js';
import { formatDateTime } from './format.js';

export function App() {
  const [state, setState] = useState<Bootstrap | { kind: 'loading' } | { kind: 'signed_out' }>({ kind: 'loading' });

  useEffect(() => {
    void bootstrapSession().then((result) => {
      if (result.kind === 'ready') {
        setSessionCredentials(result.session, (error: ApiError) => setState({ kind: 'ended', message: error.message }));
      }
      setState(result);
    });
  }, []);

  const sessionState = useMemo<SessionState | undefined>(
    () =>
      state.kind === 'ready'
        ? {
            session: state.session,
            signOut: async () => {
              try {
                await api.session('DELETE');
              } finally {
                setState({ kind: 'signed_out' });
              }
            },
          }
        : undefined,
    [state],
  );

  switch (state.kind) {
    case 'loading':
      return (
        <Standalone title="Opening your webhook portal…">
          <p class="muted">One moment.</p>
        </Standalone>
      );
    case 'bad_link':
      return (
        <Standalone title="This link cannot be used">
          <p class="lead-text">{state.message}</p>
          <p>Portal links work once and for a short time. Ask for a new link from the application that sent you here.</p>
        </Standalone>
      );
    case 'ended':
      return (
        <Standalone title="Your portal session has ended">
          <p class="lead-text">{state.message}</p>
          <p>Open the portal again from the application that sent you here to get a new link.</p>
        </Standalone>
      );
    case 'signed_out':
      return (
        <Standalone title="Your portal session has ended">
          <p class="lead-text">You signed out.</p>
          <p>Open the portal again from the application that sent you here to get a new link.</p>
        </Standalone>
      );
    case 'unavailable':
      return (
        <Standalone title="The webhook portal is unavailable">
          <p class="lead-text">{state.message}</p>
          <p>
            <a href={location.pathname}>Try again</a>
          </p>
        </Standalone>
      );
    case 'ready':
      return (
        <SessionContext.Provider value={sessionState}>
          <LiveProvider>
            <LocationProvider scope="/portal">
              <Shell>
                <Router onRouteChange={focusHeading}>
                  <Route path="/portal" component={WebhooksPage} />
                  <Route path="/portal/webhooks" component={WebhooksPage} />
                  <Route path="/portal/webhooks/new" component={EndpointFormPage} />
                  <Route path="/portal/webhooks/:id/edit" component={EndpointFormPage} />
                  <Route path="/portal/webhooks/:id/logs" component={LogsPage} />
                  <Route path="/portal/catalog" component={CatalogPage} />
                  <Route default component={NotFound} />
                </Router>
              </Shell>
            </LocationProvider>
          </LiveProvider>
        </SessionContext.Provider>
      );
  }
}

/** After a route change, focus the new page's heading so screen readers announce it. */
function focusHeading() {
  requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true }));
}

function Standalone(props: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Webhooks`;
  }, [props.title]);
  return (
    <div class="standalone">
      <header class="brand-bar">
        <span class="brand">Webhooks</span>
      </header>
      <main class="standalone-card">
        <h1>{props.title}</h1>
        {props.children}
      </main>
    </div>
  );
}

function NavLink(props: { href: string; children: ComponentChildren; match: (path: string) => boolean }) {
  const { path } = useLocation();
  const current = props.match(path);
  return (
    <a href={props.href} class={current ? 'nav-link current' : 'nav-link'} aria-current={current ? 'page' : undefined}>
      {props.children}
    </a>
  );
}

function Shell(props: { children: ComponentChildren }) {
  const { session, signOut } = useSession();
  return (
    <div class="shell">
      <a href="#main" class="skip-link">
        Skip to content
      </a>
      <header class="top-bar">
        <div class="top-bar-inner">
          <div class="brand-block">
            <span class="brand">Webhooks</span>
            <span class="tenant" title={`Signed in for ${session.tenant_name}`}>
              {session.tenant_name}
            </span>
          </div>
          <nav aria-label="Portal">
            <NavLink href="/portal/webhooks" match={(path) => path === '/portal' || path.startsWith('/portal/webhooks')}>
              Webhooks
            </NavLink>
            <NavLink href="/portal/catalog" match={(path) => path.startsWith('/portal/catalog')}>
              Event catalog
            </NavLink>
          </nav>
          <div class="session-block">
            {session.read_only && <span class="badge badge-readonly">Read-only session</span>}
            <span class="muted small" title="When this session ends">
              Until {formatDateTime(session.expires_at)}
            </span>
            <button type="button" class="button small" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <div class="page">
        <NoticeRegion />
        <main id="main" tabIndex={-1}>
          {props.children}
        </main>
      </div>
    </div>
  );
}

function NotFound() {
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing at this address. Go to <a href="/portal/webhooks">your webhooks</a>.
      </p>
    </>
  );
}
