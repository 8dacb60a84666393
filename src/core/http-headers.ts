import { z } from 'zod';

/**
 * What a header Herald sends on someone's behalf may be called and may contain: one definition for the
 * endpoint's custom headers, the signature profile's header names (the endpoint's overrides and the
 * profiles of HERALD_SIGNATURE_PROFILES) and the values of `signature.user_agent` / `signature.client_id`.
 * Only zod here: the receiver toolkit (herald/receiver) imports it through signing.ts.
 */

/**
 * Names nobody but HTTP and Herald may write: the body's framing and type (Herald sends a fixed-length JSON
 * body), the connection's own headers (hop-by-hop: undici refuses most of them, so every send would fail),
 * and Herald's user agent (set with `signature.user_agent`). Compared case-insensitively.
 */
export const protectedHeaderNames: readonly string[] = [
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'user-agent',
];

/** Every `Proxy-*` header (Proxy-Authorization, Proxy-Connection…) belongs to a proxy on the way, not to the receiver. */
const protectedPrefixes: readonly string[] = ['proxy-'];

/** Why `name` may not be chosen for a header Herald sends, or undefined when it may. */
export function protectedHeaderIssue(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (protectedHeaderNames.includes(lower) || protectedPrefixes.some((prefix) => lower.startsWith(prefix))) {
    return `${name} is set by Herald or by HTTP itself and cannot be chosen`;
  }
  return undefined;
}

/** An HTTP field name (RFC 9110 token), 1 to 100 characters. */
const headerNamePattern = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

/** The name of a header Herald sends: an HTTP token, and none of the protected names above. */
export const headerNameSchema = z
  .string()
  .regex(headerNamePattern, 'must be an HTTP header name')
  .superRefine((name, context) => {
    // zod runs this after a failed regex too: that name was reported already.
    if (!headerNamePattern.test(name)) return;
    const issue = protectedHeaderIssue(name);
    if (issue) context.addIssue({ code: 'custom', message: issue });
  });

/** The value of a header Herald sends: printable ASCII (and tabs), so no CR/LF can start another header. */
export const headerValueSchema = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[\t\x20-\x7e]*$/, 'must be printable ASCII without line breaks');

/**
 * A map of header names to values, e.g. custom headers. A bad name is reported at its key with the name
 * schema's own message (zod's default for a record key is only "Invalid key in record").
 */
export function headerMapSchema() {
  return z.record(headerNameSchema, headerValueSchema, {
    error: (issue) => (issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined),
  });
}
