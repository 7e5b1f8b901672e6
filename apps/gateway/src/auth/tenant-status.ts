import { CONTEXT_HEADER, REQUEST_ID_HEADER } from '@tessera/contracts';
import { z } from 'zod';
import { GatewayError } from '../http/problem';
import { unauthorized } from './access-token-verifier';
import { internalContext, type CallerContextSigner } from './caller-context-signer';
import { TtlLruCache } from './ttl-lru-cache';

const LOOKUP_TIMEOUT_MS = 5_000;

// Identity's answer to GET /internal/tenants/{id}/status. A status the gateway does not know is a broken answer
// (503), not a pass: the gateway refuses rather than guess.
const statusAnswer = z.object({ status: z.enum(['trial', 'active', 'suspended']) });

export type TenantState = 'trial' | 'active' | 'suspended' | 'unknown';

export interface TenantStatusOptions {
  ttlMs: number;
  maxEntries: number;
  /** The cache's clock (tests move it). */
  now?: () => number;
}

/**
 * The current status of a tenant, from identity's internal `GET /internal/tenants/{id}/status`, cached per tenant
 * for a short TTL. Access tokens carry a `tenant_status` claim and API key answers are cached, both for longer
 * (up to 15 min and 30 s): this lookup is what makes a suspension refuse every call of the tenant within the TTL,
 * and a reactivation accept them again within it.
 *
 * Answers (a status, or `unknown` when identity has no such tenant) are cached; failures never are, and concurrent
 * lookups of one tenant share one call to identity. Identity down or answering nonsense → 503.
 */
export class TenantStatusLookup {
  private readonly cache: TtlLruCache<TenantState>;
  private readonly inFlight = new Map<string, Promise<TenantState>>();

  constructor(
    private readonly identityUrl: string,
    private readonly signContext: CallerContextSigner,
    options: TenantStatusOptions,
  ) {
    this.cache = new TtlLruCache(options.maxEntries, options.ttlMs, options.now);
  }

  async statusOf(tenantId: string, requestId: string): Promise<TenantState> {
    const cached = this.cache.get(tenantId);
    if (cached) return cached;
    let pending = this.inFlight.get(tenantId);
    if (!pending) {
      pending = this.ask(tenantId, requestId)
        .then((state) => {
          this.cache.set(tenantId, state);
          return state;
        })
        .finally(() => this.inFlight.delete(tenantId));
      this.inFlight.set(tenantId, pending);
    }
    return pending;
  }

  /** Refuses the caller unless its tenant may call: 403 when suspended, 401 when identity does not know it. */
  async assertActive(tenantId: string, requestId: string): Promise<void> {
    const state = await this.statusOf(tenantId, requestId);
    if (state === 'suspended') {
      throw new GatewayError({ status: 403, title: 'Tenant suspended', detail: 'This tenant is suspended' });
    }
    if (state === 'unknown') throw unauthorized('Unknown tenant');
  }

  private async ask(tenantId: string, requestId: string): Promise<TenantState> {
    let response: Response;
    try {
      response = await fetch(`${this.identityUrl}/internal/tenants/${encodeURIComponent(tenantId)}/status`, {
        headers: {
          [CONTEXT_HEADER]: await this.signContext(internalContext(requestId)),
          [REQUEST_ID_HEADER]: requestId,
        },
        signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
      });
    } catch {
      throw unavailable();
    }
    // 404: no such tenant; 400: not even a tenant id. Either way identity has answered.
    if (response.status === 404 || response.status === 400) {
      await response.body?.cancel();
      return 'unknown';
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw unavailable();
    }
    const parsed = statusAnswer.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw unavailable();
    return parsed.data.status;
  }
}

function unavailable(): GatewayError {
  return new GatewayError({ status: 503, detail: "Cannot check the tenant's status right now: identity unavailable" });
}
