import path from 'node:path';
import { readDevInfo } from '../stack/dev-files.js';

/**
 * How the operator commands reach Herald: its HTTP API, at HERALD_URL with HERALD_API_KEY, or, when
 * those are unset, the API and admin key `herald dev` wrote to .herald/dev.json.
 */
export interface ApiTarget {
  url: string;
  key: string;
}

export async function resolveApiTarget(env: NodeJS.ProcessEnv = process.env): Promise<ApiTarget> {
  let url = env.HERALD_URL;
  let key = env.HERALD_API_KEY;
  if (!url || !key) {
    const dev = await readDevInfo(path.resolve(env.HERALD_HOME ?? '.herald'));
    url ||= dev?.api_url;
    key ||= dev?.admin_key;
  }
  if (!url) throw new Error('no API to talk to: set HERALD_URL (and HERALD_API_KEY), or start `herald dev`, which writes .herald/dev.json');
  if (!key) throw new Error('no API key: set HERALD_API_KEY to a tenant key (sk_…) or the admin key');
  return { url: url.replace(/\/+$/, ''), key };
}

/** An error answer of the API, as one line: `HTTP 409 conflict: Delivery … is still retrying`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(`HTTP ${status} ${code}: ${message}`);
    this.name = 'ApiError';
  }
}

export type ApiRequest = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<T>;

export function apiRequester(target: ApiTarget): ApiRequest {
  return async (method, requestPath, body, headers = {}) => {
    let response: Response;
    try {
      response = await fetch(`${target.url}${requestPath}`, {
        method,
        headers: { ...headers, authorization: `Bearer ${target.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach Herald at ${target.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!response.ok) {
      const error = parsed?.error;
      throw new ApiError(response.status, error?.code ?? 'error', error?.message ?? (text.slice(0, 200) || response.statusText), error?.details ?? null);
    }
    return parsed;
  };
}
