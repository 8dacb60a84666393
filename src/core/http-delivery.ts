import { Agent, errors as undiciErrors, request } from 'undici';

/**
 * The HTTP side of an attempt: one POST, redirects never followed, the endpoint's timeout as a
 * total deadline (not an idle one), and the response body read only up to a limit.
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

export type HttpErrorClass = 'timeout' | 'connection_refused' | 'connection_reset' | 'dns' | 'tls' | 'http_status' | 'network';

/** Stored per attempt: enough to debug a receiver, small enough to keep for every attempt. */
export const storedBodyLimit = 4096;
const readBodyLimit = 64 * 1024;
const keptResponseHeaders = ['content-type', 'content-length', 'retry-after', 'location', 'server', 'date', 'x-request-id'];

// One keep-alive pool per origin (undici Agent keys its pools by origin).
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, pipelining: 1, connect: { timeout: 10_000 } });

export async function postWebhook(url: string, headers: Record<string, string>, body: string, timeoutMs: number, cancel?: AbortSignal): Promise<HttpAttemptResult> {
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
    const { errorClass, message } = classifyError(error, deadline.aborted, timeoutMs);
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

function classifyError(error: unknown, timedOut: boolean, timeoutMs: number): { errorClass: HttpErrorClass; message: string } {
  const err = error as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
  const code = err.code ?? err.cause?.code ?? '';
  if (timedOut || err.name === 'TimeoutError' || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { errorClass: 'timeout', message: `no complete response within ${timeoutMs} ms` };
  }
  if (code === 'ECONNREFUSED') return { errorClass: 'connection_refused', message: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return { errorClass: 'connection_reset', message: 'connection reset by the receiver' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { errorClass: 'dns', message: `DNS lookup failed (${code})` };
  if (/CERT|SSL|TLS|ERR_TLS/.test(code) || /certificate|SSL|TLS/i.test(err.message ?? '')) return { errorClass: 'tls', message: `TLS error: ${err.message ?? code}` };
  return { errorClass: 'network', message: (err.message ?? String(error)).slice(0, 300) };
}
