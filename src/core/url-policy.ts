/**
 * Where Herald may send requests. One module, used when an endpoint is registered, by the ad-hoc
 * test endpoint, and (to be extended: resolved addresses at connect time) by the HTTP client.
 */
export interface UrlPolicyOptions {
  allowHttp: boolean;
}

/** Why `url` may not be a webhook destination, or undefined when it may. */
export function destinationUrlIssue(url: string, options: UrlPolicyOptions): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an absolute http(s) URL';
  if (parsed.username || parsed.password) return 'must not contain credentials; use a custom header for authentication';
  if (parsed.protocol === 'http:' && !options.allowHttp) return 'must use https (http is allowed only when HERALD_ALLOW_HTTP=true)';
  return undefined;
}
