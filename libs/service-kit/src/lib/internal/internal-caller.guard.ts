import { applyDecorators, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../caller/caller.decorators';
import type { KitRequest } from '../http-types';
import { ForbiddenProblem, UnauthorizedProblem } from '../problem/domain-exception';

/**
 * Guards a service's `/internal/...` routes (with `@Public()`, after the global caller guard has verified the
 * `x-tessera-context` token). Those routes take only the internal credential: a caller context signed with
 * INTERNAL_TOKEN_SECRET of principal type `internal`, naming no tenant and no principal, which the gateway signs for
 * its own calls only (API key verification, tenant status) and the operator tools sign (`callInternal`).
 *
 * The gateway answers 404 to any `/internal` path from outside. Should a client's request get here anyway, it
 * carries the context the gateway signs for clients (a user's, an API key's, or the anonymous one of public routes
 * such as signup), never the internal one, and is refused: a tenant can never reach these routes (and, for
 * instance, lift its own suspension).
 */
@Injectable()
export class InternalCallerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const caller = context.switchToHttp().getRequest<KitRequest>().tesseraCaller;
    if (!caller) throw new UnauthorizedProblem('The caller context is missing');
    if (caller.principalType !== 'internal' || caller.tenantId || caller.principalId)
      throw new ForbiddenProblem('internal route: only internal callers may use it');
    return true;
  }
}

/**
 * A controller of `/internal/...` routes: public to the global caller guard (an internal call names no tenant),
 * open to the internal credential only (InternalCallerGuard), and left out of the OpenAPI document.
 */
export const InternalRoutes = (): ClassDecorator => applyDecorators(Public(), UseGuards(InternalCallerGuard), ApiExcludeController());
