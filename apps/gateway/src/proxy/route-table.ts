/**
 * The gateway's routing table: which upstream service owns which public path prefix.
 * Adding a service is one entry here (its URL comes from `urlEnv`, defaulting to its embedded port).
 */
export interface UpstreamDefinition {
  /** Service name, used in logs, metrics, problem details and the merged OpenAPI document. */
  readonly name: string;
  /** Environment variable holding the service's base URL. */
  readonly urlEnv: string;
  readonly defaultUrl: string;
  /** Public path prefixes the service owns; matched on whole path segments. */
  readonly prefixes: readonly string[];
  /** Time to wait for the service's response headers; UPSTREAM_TIMEOUT_MS when absent. */
  readonly timeoutMs?: number;
}

export const UPSTREAMS = [
  {
    name: 'identity',
    urlEnv: 'IDENTITY_URL',
    defaultUrl: 'http://127.0.0.1:3101',
    prefixes: [
      '/v1/tenants',
      '/v1/auth',
      '/v1/me',
      '/v1/users',
      '/v1/stores',
      '/v1/vendors',
      '/v1/api-keys',
      '/.well-known/jwks.json',
    ],
  },
  { name: 'catalog', urlEnv: 'CATALOG_URL', defaultUrl: 'http://127.0.0.1:3102', prefixes: ['/v1/products'] },
  { name: 'inventory', urlEnv: 'INVENTORY_URL', defaultUrl: 'http://127.0.0.1:3103', prefixes: ['/v1/inventory'] },
  { name: 'orders', urlEnv: 'ORDERS_URL', defaultUrl: 'http://127.0.0.1:3104', prefixes: ['/v1/orders'] },
  { name: 'billing', urlEnv: 'BILLING_URL', defaultUrl: 'http://127.0.0.1:3106', prefixes: ['/v1/payments'] },
] as const satisfies readonly UpstreamDefinition[];

export type UpstreamName = (typeof UPSTREAMS)[number]['name'];

/** An upstream with its URL resolved from configuration. */
export interface Upstream {
  readonly name: string;
  readonly url: string;
  readonly prefixes: readonly string[];
  readonly timeoutMs?: number;
}

/** The upstream owning `path` (no query string), or undefined. `/v1/users` owns `/v1/users/1` but not `/v1/usersx`. */
export function findUpstream(upstreams: readonly Upstream[], path: string): Upstream | undefined {
  return upstreams.find((upstream) =>
    upstream.prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)),
  );
}
