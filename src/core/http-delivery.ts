import { Agent, buildConnector, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { isIP } from 'node:net';
import { BlockedAddressError, createUrlPolicy, type UrlPolicy } from './url-policy.js';

/**
 * The HTTP side of an attempt: one POST, redirects never followed, the endpoint's timeout as a
 * total deadline (not an idle one), and the response body read only up to a limit. Connections go
 * through the URL policy at connect time (see createDeliveryAgent).
 */
export interface HttpAttemptResult {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  headers: Record<string, string>;
  body: string;
  errorClass: HttpErrorClass | null;
  errorMessage: string | null;
  retryAfter?: string;
}

/**
 * `blocked`: the URL policy refused the address the host resolved to (or the literal address) at connect time.
 * `interrupted`: Herald cancelled the attempt (the worker was shutting down); it is retried like a failure.
 * `template`: the endpoint's payload template failed to render (src/core/templates.ts), so no request was made; not retried.
 */
export type HttpErrorClass = 'timeout' | 'connection_refused' | 'connection_reset' | 'dns' | 'tls' | 'http_status' | 'network' | 'blocked' | 'interrupted' | 'template';

/** Stored per attempt: enough to debug a receiver, small enough to keep for every attempt. */
export const storedBodyLimit = 4096;
const readBodyLimit = 64 * 1024;
const keptResponseHeaders = ['content-type', 'content-length', 'retry-after', 'location', 'server', 'date', 'x-request-id'];

/**
 * The dispatcher webhook requests go through: one keep-alive pool per origin (undici Agent keys its pools
 * by origin), every new connection checked by `policy`: a literal address directly, a name through the
 * policy's lookup, so the address actually connected to is the one that was checked (no DNS rebinding).
 */
export function createDeliveryAgent(policy: UrlPolicy): Agent {
  const pool = { keepAliveTimeout: 30_000, connections: 64, pipelining: 1 };
  const connectTimeoutMs = 10_000;
  if (policy.devMode) return new Agent({ ...pool, connect: { timeout: connectTimeoutMs } });
  const connector = buildConnector({ timeout: connectTimeoutMs, lookup: policy.lookup });
  return new Agent({
    ...pool,
    connect: (options, callback) => {
      // net.connect skips the lookup for IP literals: check them here.
      const issue = isIP(options.hostname) ? policy.addressIssue(options.hostname) : undefined;
      if (issue) callback(new BlockedAddressError(issue), null);
      else connector(options, callback);
    },
  });
}

// Used when a caller passes no dispatcher: the strict policy (no dev mode, no allowlist).
let strictAgent: Agent | undefined;

export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  cancel?: AbortSignal,
  options: { dispatcher?: Dispatcher } = {},
): Promise<HttpAttemptResult> {
  const agent = options.dispatcher ?? (strictAgent ??= createDeliveryAgent(createUrlPolicy({ devMode: false })));
  const started = performance.now();
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = cancel ? AbortSignal.any([deadline, cancel]) : deadline;
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body,
      dispatcher: agent,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await readLimited(response.body, readBodyLimit);
    const responseHeaders: Record<string, string> = {};
    for (const name of keptResponseHeaders) {
      const value = response.headers[name];
      if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    return {
      ok,
      statusCode: response.statusCode,
      durationMs: Math.round(performance.now() - started),
      headers: responseHeaders,
      body: text.slice(0, storedBodyLimit),
      errorClass: ok ? null : 'http_status',
      errorMessage: ok ? null : `HTTP ${response.statusCode}`,
      retryAfter: responseHeaders['retry-after'],
    };
  } catch (error) {
    const { errorClass, message } = classifyError(error, deadline.aborted, timeoutMs, cancel?.aborted === true && !deadline.aborted);
    return { ok: false, statusCode: null, durationMs: Math.round(performance.now() - started), headers: {}, body: '', errorClass, errorMessage: message };
  }
}

/** Reads at most `limit` bytes, then drops the connection rather than draining a huge body. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy: (error?: Error) => void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function classifyError(error: unknown, timedOut: boolean, timeoutMs: number, cancelled: boolean): { errorClass: HttpErrorClass; message: string } {
  const err = error as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
  const code = err.code ?? err.cause?.code ?? '';
  if (cancelled) return { errorClass: 'interrupted', message: 'cancelled by Herald before the receiver answered (worker shutting down)' };
  if (code === 'ERR_HERALD_BLOCKED_ADDRESS') return { errorClass: 'blocked', message: `blocked by the URL policy: ${err.code === code ? err.message : err.cause?.message}` };
  if (timedOut || err.name === 'TimeoutError' || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { errorClass: 'timeout', message: `no complete response within ${timeoutMs} ms` };
  }
  if (code === 'ECONNREFUSED') return { errorClass: 'connection_refused', message: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return { errorClass: 'connection_reset', message: 'connection reset by the receiver' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { errorClass: 'dns', message: `DNS lookup failed (${code})` };
  if (/CERT|SSL|TLS|ERR_TLS/.test(code) || /certificate|SSL|TLS/i.test(err.message ?? '')) return { errorClass: 'tls', message: `TLS error: ${err.message ?? code}` };
  return { errorClass: 'network', message: (err.message ?? String(error)).slice(0, 300) };
}
