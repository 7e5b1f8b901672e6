import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Role } from '@tessera/contracts';
import { ForbiddenProblem, UnauthorizedProblem } from '../problem/domain-exception';
import type { KitRequest } from '../http-types';
import { NO_CALLER_CONTEXT_KEY, PUBLIC_KEY, REQUIRE_TENANT_KEY, ROLES_KEY, SCOPES_KEY } from './caller.decorators';

/**
 * Global guard of services behind the gateway: every route needs the caller context the middleware verified
 * (401 otherwise); non-public routes need an authenticated caller with a tenant; `@Roles`/`@Scopes` give 403.
 */
@Injectable()
export class CallerGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    // Event handlers get their tenant from the event, not from a gateway token.
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(NO_CALLER_CONTEXT_KEY, targets)) return true;

    const request = context.switchToHttp().getRequest<KitRequest>();
    const caller = request.tesseraCaller;
    if (!caller) {
      throw new UnauthorizedProblem(request.tesseraCallerError?.message ?? 'The caller context is missing');
    }
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;

    // The internal credential opens /internal routes only (they are public to this guard and take InternalCallerGuard).
    if (caller.principalType === 'anonymous' || caller.principalType === 'internal') throw new UnauthorizedProblem('Authentication is required');
    const tenantRequired = this.reflector.getAllAndOverride<boolean>(REQUIRE_TENANT_KEY, targets) ?? true;
    if (tenantRequired && !caller.tenantId) throw new ForbiddenProblem('This operation needs a tenant');

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    const scopes = this.reflector.getAllAndOverride<string[] | undefined>(SCOPES_KEY, targets);
    if (!roles && !scopes) return true;
    const roleMatches = roles?.some((role) => caller.roles.includes(role)) ?? false;
    const scopesMatch = !!scopes && scopes.length > 0 && scopes.every((scope) => caller.scopes.includes(scope));
    if (roleMatches || scopesMatch) return true;
    throw new ForbiddenProblem('The caller is not allowed to perform this operation');
  }
}
