/**
 * Proxied routes that need no credentials: the upstream receives an anonymous caller context.
 * The gateway's own routes (health, metrics, OpenAPI, docs) are never proxied and need none either.
 */
const PUBLIC_ROUTES: ReadonlyArray<{ methods: readonly string[]; path: string }> = [
  { methods: ['POST'], path: '/v1/tenants' },
  { methods: ['POST'], path: '/v1/auth/login' },
  { methods: ['POST'], path: '/v1/auth/refresh' },
  { methods: ['POST'], path: '/v1/auth/logout' },
  { methods: ['GET', 'HEAD'], path: '/.well-known/jwks.json' },
];

/** Signup and login: the routes worth guessing passwords or farming tenants on, so they get a stricter limit. */
const CREDENTIAL_ROUTES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'POST', path: '/v1/tenants' },
  { method: 'POST', path: '/v1/auth/login' },
];

export function isPublicRoute(method: string, path: string): boolean {
  const normalized = routeKey(path);
  return PUBLIC_ROUTES.some((route) => route.path === normalized && route.methods.includes(method));
}

export function isCredentialRoute(method: string, path: string): boolean {
  const normalized = routeKey(path);
  return CREDENTIAL_ROUTES.some((route) => route.path === normalized && route.method === method);
}

/**
 * The path as the services' routers match it: Express ignores case and a trailing slash, so `/v1/auth/LOGIN/` is the
 * login route there and must be here too (else it would pass as an ordinary authenticated route, without the
 * credential limit).
 */
function routeKey(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}
