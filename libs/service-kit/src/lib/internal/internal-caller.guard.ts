import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { KitRequest } from '../http-types';
import { ForbiddenProblem, UnauthorizedProblem } from '../problem/domain-exception';

/**
 * Guards a service's `/internal/...` routes (with `@Public()`, after the global caller guard has verified the
 * `x-tessera-context` token). Those routes take only the internal credential: a caller context signed with
 * INTERNAL_TOKEN_SECRET that names no tenant and no principal, which is what the gateway sends for its own calls
 * (API key verification, tenant status) and what the operator tools sign (`callInternal`).
 *
 * The gateway answers 404 to any `/internal` path from outside, so a tenant's request never gets here; should one
 * get here anyway, it carries a tenant context and is refused, so a tenant's users can never reach these routes
 * (and, for instance, lift their own suspension).
 */
@Injectable()
export class InternalCallerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const caller = context.switchToHttp().getRequest<KitRequest>().tesseraCaller;
    if (!caller) throw new UnauthorizedProblem('The caller context is missing');
    if (caller.principalType !== 'anonymous' || caller.tenantId || caller.principalId)
      throw new ForbiddenProblem('internal route: only internal callers may use it');
    return true;
  }
}
