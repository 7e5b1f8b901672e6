import { ROLES, type Role } from '@tessera/contracts';
import { z } from 'zod';
import { GatewayError } from '../http/problem';
import { unauthorized } from './access-token-verifier';
import type { CallerContextSigner } from './caller-context-signer';
import { IdentityLookup, type LookupCacheOptions } from './identity-lookup';

const statusAnswer = z.object({ status: z.enum(['active', 'deactivated']), role: z.enum(ROLES) });

/**
 * A user's current status and role, from identity's internal `GET /internal/tenants/{t}/users/{u}/status`, cached
 * per user for a short TTL. An access token lives up to 15 minutes: this is what refuses a user deactivated since
 * it was issued, and one whose role changed (the client refreshes to get a token with the new role), within the
 * TTL instead, on every service.
 */
export class UserStatusLookup {
  private readonly lookup: IdentityLookup<z.infer<typeof statusAnswer>>;

  constructor(identityUrl: string, signContext: CallerContextSigner, options: LookupCacheOptions) {
    this.lookup = new IdentityLookup(identityUrl, signContext, statusAnswer, "user's status", options);
  }

  /** 401 when the user is deactivated, unknown, or no longer has the role its token names. */
  async assertCurrent(tenantId: string, userId: string, tokenRoles: Role[], requestId: string): Promise<void> {
    const path = `/internal/tenants/${encodeURIComponent(tenantId)}/users/${encodeURIComponent(userId)}/status`;
    const answer = await this.lookup.get(`${tenantId}/${userId}`, path, requestId);
    if (answer === 'unknown') throw unauthorized('Unknown user');
    if (answer.status !== 'active') throw unauthorized('This user is deactivated');
    if (!tokenRoles.includes(answer.role)) {
      throw new GatewayError({
        ...unauthorized("The user's role changed since this token was issued: refresh it").problem,
        reason: 'role_changed',
      });
    }
  }
}
