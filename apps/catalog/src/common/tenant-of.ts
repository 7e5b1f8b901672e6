import type { CallerContext } from '@tessera/contracts';
import { UnauthorizedProblem } from '@tessera/service-kit';

/** The caller's tenant; the global caller guard already refused tenant-less callers on these routes. */
export function tenantOf(caller: CallerContext | undefined): string {
  if (!caller?.tenantId) throw new UnauthorizedProblem('this route needs an authenticated tenant caller');
  return caller.tenantId;
}
