import type { CallerContext } from '@tessera/contracts';

/** Signs a caller context into the `x-tessera-context` token sent upstream. */
export type CallerContextSigner = (context: CallerContext) => Promise<string>;

/** The context of a client's request that needs no credentials (signup, login, JWKS, OpenAPI). */
export function anonymousContext(requestId: string): CallerContext {
  return { requestId, principalType: 'anonymous', roles: [], scopes: [] };
}

/** The gateway's own calls to identity's `/internal` routes; never the context of a client's request. */
export function internalContext(requestId: string): CallerContext {
  return { requestId, principalType: 'internal', roles: [], scopes: [] };
}
