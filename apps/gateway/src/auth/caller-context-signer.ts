import type { CallerContext } from '@tessera/contracts';
import { serviceContextKey, signCallerContext } from '@tessera/service-kit';

/** Signs a caller context into the `x-tessera-context` token sent to one service (identity, for the auth clients). */
export type CallerContextSigner = (context: CallerContext) => Promise<string>;

/** Signs a caller context for the named upstream service, with that service's own key (serviceContextKey). */
export type ServiceContextSigner = (context: CallerContext, service: string) => Promise<string>;

/** A ServiceContextSigner for the platform's INTERNAL_TOKEN_SECRET; each service's key is derived once. */
export function serviceSigner(secret: string, ttlSeconds: number): ServiceContextSigner {
  const keys = new Map<string, string>();
  return (context, service) => {
    let key = keys.get(service);
    if (key === undefined) {
      key = serviceContextKey(secret, service);
      keys.set(service, key);
    }
    return signCallerContext(context, key, ttlSeconds);
  };
}

/** The context of a client's request that needs no credentials (signup, login, JWKS, OpenAPI). */
export function anonymousContext(requestId: string): CallerContext {
  return { requestId, principalType: 'anonymous', roles: [], scopes: [] };
}

/** The gateway's own calls to identity's `/internal` routes; never the context of a client's request. */
export function internalContext(requestId: string): CallerContext {
  return { requestId, principalType: 'internal', roles: [], scopes: [] };
}
