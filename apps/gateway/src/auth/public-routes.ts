/**
 * Proxied routes that need no credentials: the upstream receives an anonymous caller context.
 * The gateway's own routes (health, metrics, OpenAPI, docs) are never proxied and need none either.
 */
const PUBLIC_ROUTES: ReadonlyArray<{ methods: readonly string[]; path: string }> = [
  { methods: ['POST'], path: '/v1/tenants' },
  { methods: ['POST'], path: '/v1/auth/login' },
  { methods: ['POST'], path: '/v1/auth/refresh' },
  { methods: ['GET', 'HEAD'], path: '/.well-known/jwks.json' },
];

/** Signup and login: the routes worth guessing passwords or farming tenants on, so they get a stricter limit. */
const CREDENTIAL_ROUTES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'POST', path: '/v1/tenants' },
  { method: 'POST', path: '/v1/auth/login' },
];

export function isPublicRoute(method: string, path: string): boolean {
  const normalized = trimTrailingSlash(path);
  return PUBLIC_ROUTES.some((route) => route.path === normalized && route.methods.includes(method));
}

export function isCredentialRoute(method: string, path: string): boolean {
  const normalized = trimTrailingSlash(path);
  return CREDENTIAL_ROUTES.some((route) => route.path === normalized && route.method === method);
}

function trimTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
