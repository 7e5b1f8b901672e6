import type { IncomingHttpHeaders } from 'node:http';
import type { CallerContext } from '@tessera/contracts';
import { AccessTokenVerifier, unauthorized } from './access-token-verifier';
import { API_KEY_PREFIX, ApiKeyVerifier } from './api-key-verifier';
import { anonymousContext } from './caller-context-signer';
import { isPublicRoute } from './public-routes';
import type { Principal } from './principal';
import type { TenantStatusLookup } from './tenant-status';
import type { UserStatusLookup } from './user-status';

export interface RequestToAuthenticate {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  requestId: string;
}

/** Turns a request's credentials into the caller context forwarded upstream, or refuses it. */
export class Authenticator {
  constructor(
    private readonly accessTokens: AccessTokenVerifier,
    private readonly apiKeys: ApiKeyVerifier,
    private readonly tenantStatus: TenantStatusLookup,
    private readonly userStatus: UserStatusLookup,
  ) {}

  async authenticate(request: RequestToAuthenticate): Promise<CallerContext> {
    // Public routes ignore credentials: signup or login with a stale token in the client must still work.
    if (isPublicRoute(request.method, request.path)) return anonymousContext(request.requestId);
    const principal = await this.principalOf(request);
    // The tenant's status now (cached briefly), not the token's claim or the cached key answer, which may predate a
    // suspension or a reactivation: a suspended tenant is refused with 403 within TENANT_STATUS_CACHE_TTL_MS.
    const tenantActive = this.tenantStatus.assertActive(principal.tenantId, request.requestId);
    // Likewise the user's status and role now: a deactivation or a role change takes effect within
    // USER_STATUS_CACHE_TTL_MS on every service, not when the 15-minute access token expires. Asked at the same time
    // as the tenant's (on a cache miss, one wait for identity instead of two); the tenant's answer still comes first,
    // so a suspended tenant's 403 wins over a user's 401.
    const userCurrent =
      principal.principalType === 'user'
        ? this.userStatus.assertCurrent(principal.tenantId, principal.principalId, principal.roles, request.requestId)
        : undefined;
    userCurrent?.catch(() => undefined);
    await tenantActive;
    await userCurrent;
    return {
      requestId: request.requestId,
      tenantId: principal.tenantId,
      principalId: principal.principalId,
      principalType: principal.principalType,
      roles: principal.roles,
      scopes: principal.scopes,
    };
  }

  private async principalOf({ headers, requestId }: RequestToAuthenticate): Promise<Principal> {
    const apiKeyHeader = headers['x-api-key'];
    const authorization = headers.authorization;
    if (apiKeyHeader !== undefined && authorization !== undefined) {
      throw unauthorized('Send either Authorization or X-Api-Key, not both');
    }
    if (apiKeyHeader !== undefined) {
      if (Array.isArray(apiKeyHeader)) throw unauthorized('Send a single X-Api-Key');
      return this.apiKeys.verify(apiKeyHeader.trim(), requestId);
    }
    if (authorization === undefined) throw unauthorized('Credentials required: a Bearer token or an X-Api-Key');
    const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthorized('Authorization must use the Bearer scheme');
    const credential = match[1];
    return credential.startsWith(API_KEY_PREFIX)
      ? this.apiKeys.verify(credential, requestId)
      : this.accessTokens.verify(credential);
  }
}
