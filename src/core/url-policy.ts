import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where Herald may send requests. One module, used when an endpoint is registered, by the ad-hoc
 * test endpoint, and by the HTTP client at connect time (createDeliveryAgent in http-delivery.ts),
 * so that a name that resolved to a public address at registration and to an internal one later
 * (DNS rebinding) is still refused.
 *
 * Outside dev mode only public unicast addresses are destinations: loopback, private (RFC 1918, IPv6
 * unique local), link-local, CGNAT, multicast, unspecified, reserved and other special-purpose ranges
 * are refused, also in their IPv4-mapped IPv6 form, and so are cloud metadata services by address and
 * by name. HERALD_URL_ALLOWLIST names CIDRs of internal receivers that are allowed anyway (metadata
 * addresses never are).
 *
 * The reasons it gives reach tenants (422 answers, test-send answers, attempt logs). For a literal address they
 * say what kind it is; for a name only that it "resolves to a non-public address", never to which address, so
 * the policy cannot be used to map the deployment's internal DNS. (Dev mode refuses nothing, so it has nothing to hide.)
 */
export interface UrlPolicyOptions {
  allowHttp: boolean;
}

/** Why `url` may not be a webhook destination, or undefined when it may (syntax only; see UrlPolicy for addresses). */
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

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all of its addresses (default: the system resolver, as connections use it). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface UrlPolicy {
  readonly devMode: boolean;
  /** Why Herald may not connect to this IP address, or undefined. */
  addressIssue(address: string): string | undefined;
  /** Why Herald may not connect to this host (an IP literal or a name, resolved), or undefined. */
  hostIssue(hostname: string): Promise<string | undefined>;
  /** destinationUrlIssue, then the host's addresses; a name that does not resolve now is left to connect time. */
  destinationIssue(url: string, options: UrlPolicyOptions): Promise<string | undefined>;
  /** A `net.connect` lookup that resolves with the policy's resolver and fails with BlockedAddressError. */
  lookup: LookupFunction;
}

/**
 * Thrown (as the connection's error) when a destination's address is refused; classified `blocked`. Its message
 * reaches tenants (API answers, attempt logs), so for a name it never says what the name resolved to: that would
 * let a tenant map the deployment's internal DNS. `resolvedTo` keeps it for the process's own logs and tests.
 */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_HERALD_BLOCKED_ADDRESS';
  constructor(
    message: string,
    /** The refused address a name resolved to, e.g. "127.0.0.1, a loopback address"; never in the message. */
    readonly resolvedTo?: string,
  ) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

/** Cloud metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS IPv6; Alibaba; Oracle), refused even when allowlisted. */
const metadataAddresses = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192'].map((address) => ipaddr.parse(address).toString());
const metadataHostnames = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.com']);

const rangeNames: Record<string, string> = {
  loopback: 'loopback',
  private: 'private (RFC 1918)',
  uniqueLocal: 'private (IPv6 unique local)',
  linkLocal: 'link-local',
  carrierGradeNat: 'CGNAT (shared address space)',
  multicast: 'multicast',
  broadcast: 'broadcast',
  unspecified: 'unspecified',
};

const globalUnicastV6 = ipaddr.parseCIDR('2000::/3');

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Parses `HERALD_URL_ALLOWLIST` entries: CIDRs, or single addresses (a /32 or /128). Throws on a bad entry. */
export function parseCidr(entry: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  const text = entry.trim();
  if (ipaddr.isValidCIDR(text)) return ipaddr.parseCIDR(text);
  if (ipaddr.isValid(text)) {
    const address = ipaddr.parse(text);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  throw new Error(`"${text}" is not a CIDR such as 10.20.0.0/16 or fd12:3456::/48`);
}

/** `[::1]` → `::1`; names lowercased without a trailing dot. */
function bareHost(hostname: string): string {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return host.toLowerCase().replace(/\.$/, '');
}

export function createUrlPolicy(options: { devMode: boolean; allowlist?: readonly string[]; resolve?: Resolver }): UrlPolicy {
  const allowlist = (options.allowlist ?? []).map(parseCidr);
  const resolve = options.resolve ?? systemResolver;

  /** What kind of refused address this is ("a loopback address"), or undefined when it may be connected to. */
  const refusal = (text: string): { shown: string; kind: string } | undefined => {
    const bare = bareHost(text);
    if (!ipaddr.isValid(bare)) return { shown: bare, kind: 'not an IP address' };
    let address = ipaddr.parse(bare);
    // ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address it carries.
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
    const shown = address.toString();
    if (metadataAddresses.includes(shown)) return { shown, kind: 'a cloud metadata address' };
    if (allowlist.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits))) return undefined;
    const range = address.range();
    // Only public unicast: for IPv6 that is 2000::/3 outside its special-purpose blocks (6to4, Teredo, documentation…).
    if (range === 'unicast' && (address.kind() === 'ipv4' || address.match(globalUnicastV6))) return undefined;
    const name = rangeNames[range] ?? `special-purpose (${range === 'unicast' ? 'reserved' : range})`;
    return { shown, kind: `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} address` };
  };
  const publicOnly = 'Herald delivers only to public addresses (allow internal receivers with HERALD_URL_ALLOWLIST)';
  const explain = (kind: string) => (kind === 'a cloud metadata address' ? kind : `${kind}; ${publicOnly}`);

  const addressIssue = (text: string): string | undefined => {
    if (options.devMode) return undefined;
    const refused = refusal(text);
    return refused && `${refused.shown} is ${explain(refused.kind)}`;
  };

  const hostnameIssue = (host: string): string | undefined => {
    if (metadataHostnames.has(host)) return `${host} is a cloud metadata service`;
    if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is a loopback name`;
    return undefined;
  };

  /** The host's addresses when every one of them may be connected to; BlockedAddressError otherwise. */
  const resolveChecked = async (hostname: string): Promise<ResolvedAddress[]> => {
    const host = bareHost(hostname);
    if (isIP(host)) {
      const issue = addressIssue(host);
      if (issue) throw new BlockedAddressError(issue);
      return [{ address: host, family: isIP(host) }];
    }
    const nameIssue = options.devMode ? undefined : hostnameIssue(host);
    if (nameIssue) throw new BlockedAddressError(nameIssue);
    const addresses = await resolve(host);
    if (addresses.length === 0) throw Object.assign(new Error(`${host} has no addresses`), { code: 'ENOTFOUND' });
    if (!options.devMode) {
      for (const { address } of addresses) {
        const refused = refusal(address);
        // One refused address refuses the name: a rebinding server may answer with a mix. Which address, and of
        // which kind, stays out of the message (internal DNS is not the tenant's to map).
        if (refused) throw new BlockedAddressError(`${host} resolves to a non-public address; ${publicOnly}`, `${refused.shown}, ${refused.kind}`);
      }
    }
    return addresses;
  };

  const hostIssue = async (hostname: string): Promise<string | undefined> => {
    if (options.devMode) return undefined;
    try {
      await resolveChecked(hostname);
      return undefined;
    } catch (error) {
      // A name that does not resolve (yet) is judged when a request connects.
      return error instanceof BlockedAddressError ? error.message : undefined;
    }
  };

  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolveChecked(hostname).then(
      (all) => {
        const family = lookupOptions.family === 4 || lookupOptions.family === 'IPv4' ? 4 : lookupOptions.family === 6 || lookupOptions.family === 'IPv6' ? 6 : 0;
        const addresses = family ? all.filter((entry) => entry.family === family) : all;
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '', 0);
        } else if (lookupOptions.all) {
          // With `all` (happy eyeballs), net expects the whole list.
          (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(null, addresses);
        } else {
          callback(null, addresses[0]!.address, addresses[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };

  return {
    devMode: options.devMode,
    addressIssue,
    hostIssue,
    async destinationIssue(url, urlOptions) {
      const syntax = destinationUrlIssue(url, urlOptions);
      if (syntax || options.devMode) return syntax;
      return hostIssue(new URL(url).hostname);
    },
    lookup,
  };
}

/** The policy a process runs with: dev mode (`herald dev`, tests) allows everything. */
export function urlPolicyFromConfig(config: { HERALD_DEV_MODE: boolean; HERALD_URL_ALLOWLIST?: readonly string[] }, resolve?: Resolver): UrlPolicy {
  return createUrlPolicy({ devMode: config.HERALD_DEV_MODE, allowlist: config.HERALD_URL_ALLOWLIST, resolve });
}
