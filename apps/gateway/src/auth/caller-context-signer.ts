import type { CallerContext } from '@tessera/contracts';

/** Signs a caller context into the `x-tessera-context` token sent upstream. */
export type CallerContextSigner = (context: CallerContext) => Promise<string>;

export function anonymousContext(requestId: string): CallerContext {
  return { requestId, principalType: 'anonymous', roles: [], scopes: [] };
}
