import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { CallerContext, Role } from '@tessera/contracts';
import type { KitRequest } from '../http-types';
import { currentCaller } from './caller-storage';

export const PUBLIC_KEY = 'tessera:public';
export const ROLES_KEY = 'tessera:roles';
export const SCOPES_KEY = 'tessera:scopes';
export const REQUIRE_TENANT_KEY = 'tessera:require-tenant';
export const NO_CALLER_CONTEXT_KEY = 'tessera:no-caller-context';

/**
 * The route accepts an anonymous caller (signup, login...). A caller context is still required: an anonymous
 * one signed by the gateway, so nothing reaches a service without passing the gateway.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

/** OpenAPI extensions that carry a route's roles and scopes into the document (see openapi.ts). */
export const ROLES_EXTENSION = 'x-tessera-roles';
export const SCOPES_EXTENSION = 'x-tessera-api-key-scopes';

/** The caller needs at least one of these roles (or, when `@Scopes` is also set, those scopes). Documented in OpenAPI. */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(ROLES_KEY, roles), ApiExtension(ROLES_EXTENSION, roles));

/**
 * An API-key caller needs all of these scopes. A route with only `@Scopes` is for API keys; add `@Roles` to let
 * users in too (either requirement then suffices).
 */
export const Scopes = (...scopes: string[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(SCOPES_KEY, scopes), ApiExtension(SCOPES_EXTENSION, scopes));

/** Non-public routes need a tenant in the caller context by default; `@RequireTenant(false)` lifts that. */
export const RequireTenant = (required = true): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRE_TENANT_KEY, required);

/** Infrastructure routes (health, metrics) that probes call without any caller context. */
export const NoCallerContext = (): MethodDecorator & ClassDecorator => SetMetadata(NO_CALLER_CONTEXT_KEY, true);

/** The verified caller of the request: `handler(@Caller() caller: CallerContext)`. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): CallerContext | undefined => {
  if (ctx.getType() !== 'http') return currentCaller();
  return ctx.switchToHttp().getRequest<KitRequest>().tesseraCaller ?? currentCaller();
});
