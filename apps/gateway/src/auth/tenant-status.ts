import { z } from 'zod';
import { GatewayError } from '../http/problem';
import { unauthorized } from './access-token-verifier';
import type { CallerContextSigner } from './caller-context-signer';
import { IdentityLookup, type LookupCacheOptions } from './identity-lookup';

// A status the gateway does not know is a broken answer (503), not a pass.
const statusAnswer = z.object({ status: z.enum(['trial', 'active', 'suspended']) });

export type TenantState = 'trial' | 'active' | 'suspended' | 'unknown';
export type TenantStatusOptions = LookupCacheOptions;

/**
 * The current status of a tenant, from identity's internal `GET /internal/tenants/{id}/status`, cached per tenant
 * for a short TTL. Access tokens carry a `tenant_status` claim and API key answers are cached, both for longer
 * (up to 15 min and 30 s): this lookup is what makes a suspension refuse every call of the tenant within the TTL,
 * and a reactivation accept them again within it.
 */
export class TenantStatusLookup {
  private readonly lookup: IdentityLookup<z.infer<typeof statusAnswer>>;

  constructor(identityUrl: string, signContext: CallerContextSigner, options: TenantStatusOptions) {
    this.lookup = new IdentityLookup(identityUrl, signContext, statusAnswer, "tenant's status", options);
  }

  async statusOf(tenantId: string, requestId: string): Promise<TenantState> {
    const answer = await this.lookup.get(tenantId, `/internal/tenants/${encodeURIComponent(tenantId)}/status`, requestId);
    return answer === 'unknown' ? 'unknown' : answer.status;
  }

  /** Refuses the caller unless its tenant may call: 403 when suspended, 401 when identity does not know it. */
  async assertActive(tenantId: string, requestId: string): Promise<void> {
    const state = await this.statusOf(tenantId, requestId);
    if (state === 'suspended') {
      throw new GatewayError({ status: 403, title: 'Tenant suspended', detail: 'This tenant is suspended' });
    }
    if (state === 'unknown') throw unauthorized('Unknown tenant');
  }
}
