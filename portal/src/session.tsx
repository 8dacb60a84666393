import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { api, ApiError, messageOf } from './api.js';
import type { SessionView } from './types.js';

export interface SessionState {
  session: SessionView;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | undefined>(undefined);

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside a session');
  return state;
}

export type Bootstrap =
  | { kind: 'ready'; session: SessionView }
  | { kind: 'bad_link'; message: string }
  | { kind: 'ended'; message: string }
  | { kind: 'unavailable'; message: string };

/** The token of a magic link (`/portal/#token=…`), if the page was opened from one. */
export function linkToken(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token ? token : undefined;
}

let started: Promise<Bootstrap> | undefined;

/**
 * Opening a magic link swaps its token for the session cookie (POST /portal/session), then drops the fragment from
 * the address bar and history; any other visit asks for the current session (GET /portal/session).
 */
export function bootstrapSession(): Promise<Bootstrap> {
  started ??= (async () => {
    const token = linkToken(location.hash);
    try {
      if (token) {
        try {
          return { kind: 'ready', session: await api.session<SessionView>('POST', { token }) };
        } finally {
          history.replaceState(history.state, '', location.pathname + location.search);
        }
      }
      return { kind: 'ready', session: await api.session<SessionView>('GET') };
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403 || error.status === 404 || error.status === 410)) {
        return token ? { kind: 'bad_link', message: error.message } : { kind: 'ended', message: error.message };
      }
      return { kind: 'unavailable', message: messageOf(error) };
    }
  })();
  return started;
}
