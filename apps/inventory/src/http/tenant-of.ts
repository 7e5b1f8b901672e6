import type { CallerContext } from '@tessera/contracts';
import { UnauthorizedProblem } from '@tessera/service-kit';

/** The caller's tenant; anonymous callers have none and get 401. */
export function tenantOf(caller: CallerContext | undefined): string {
  if (!caller?.tenantId) throw new UnauthorizedProblem('this route needs an authenticated tenant caller');
  return caller.tenantId;
}

/** Who did it, for the ledger: `user:<id>` or `api_key:<id>`, with the request id as correlation id. */
export function actorOf(caller: CallerContext): { actor: string; correlationId: string } {
  return { actor: `${caller.principalType}:${caller.principalId ?? 'unknown'}`, correlationId: caller.requestId };
}
