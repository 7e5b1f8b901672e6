import { serviceContextKey, verifyCallerContext } from '@tessera/service-kit';
import { CONTEXT_HEADER, INVALID_API_KEY_REASON } from '@tessera/contracts';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { FakeUpstream, json, type RecordedRequest } from './fake-upstream';

export const TEST_SECRET = 'test-internal-token-secret-0123456789abcdef';
/** The key identity verifies caller contexts with, derived from the gateway's TEST_SECRET. */
export const IDENTITY_KEY = serviceContextKey(TEST_SECRET, 'identity');

/** A context the gateway signed: the anonymous one of public routes, or (`internal`) its own for /internal routes. */
async function hasGatewayContext(req: RecordedRequest, type: 'anonymous' | 'internal' = 'anonymous'): Promise<boolean> {
  const context = await verifyCallerContext(String(req.headers[CONTEXT_HEADER] ?? ''), IDENTITY_KEY).catch(() => undefined);
  return context?.principalType === type && !context.tenantId && !context.principalId;
}

/** What identity's POST /internal/api-keys/verify answers. */
export interface ApiKeyRecord {
  apiKeyId: string;
  tenantId: string;
  scopes: string[];
  tenantStatus: string;
}

export type TenantStatus = 'trial' | 'active' | 'suspended';

/**
 * A stand-in for the identity service: a JWKS with a key pair the test controls, the internal API key verify and
 * tenant status routes (which insist on the gateway's anonymous caller context, like identity), an OpenAPI
 * document, and an echo of everything else.
 */
export class FakeIdentity extends FakeUpstream {
  readonly kid = 'test-key-1';
  readonly apiKeys = new Map<string, ApiKeyRecord>();
  /** Tenant statuses for GET /internal/tenants/{id}/status; a tenant not listed is `active`. */
  readonly tenantStatuses = new Map<string, TenantStatus | 'missing'>();
  /** While set, the tenant status route answers this (e.g. 500) instead. */
  tenantStatusFailure: number | undefined;
  /** How many more API key checks to refuse as identity's guard refuses an expired gateway context (401). */
  expiredContextRefusals = 0;
  /**
   * Users' current status and role for GET /internal/tenants/{t}/users/{u}/status, by `${tenant}/${user}`; a user
   * not listed answers active with the first role of the last token issued for it (see token()).
   */
  readonly userStates = new Map<string, { status: 'active' | 'deactivated'; role: string } | 'missing'>();
  private readonly issuedRoles = new Map<string, string>();
  privateKey!: CryptoKey;
  publicJwk!: JWK;

  async init(): Promise<this> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    this.privateKey = privateKey;
    this.publicJwk = { ...(await exportJWK(publicKey)), kid: this.kid, alg: 'ES256', use: 'sig' };
    // Like identity, these routes refuse callers without the context the gateway signs for them.
    this.route('GET', '/.well-known/jwks.json', async (req, res) => {
      if (!(await hasGatewayContext(req))) return json(res, 401, { title: 'no gateway context' });
      json(res, 200, { keys: [this.publicJwk] });
    });
    this.route('POST', '/internal/api-keys/verify', async (req, res) => {
      if (!(await hasGatewayContext(req, 'internal'))) return json(res, 401, { title: 'no gateway context' });
      if (this.expiredContextRefusals > 0) {
        this.expiredContextRefusals -= 1;
        return json(res, 401, { title: 'Unauthorized', detail: 'The caller context has expired' });
      }
      const record = this.apiKeys.get((JSON.parse(req.body) as { key: string }).key);
      if (!record) return json(res, 401, { title: 'Unauthorized', detail: 'API key is not valid', reason: INVALID_API_KEY_REASON });
      json(res, 200, record);
    });
    this.routeMatching('GET', /^\/internal\/tenants\/([^/]+)\/status$/, async (req, res, match) => {
      if (!(await hasGatewayContext(req, 'internal'))) return json(res, 401, { title: 'no gateway context' });
      if (this.tenantStatusFailure) return json(res, this.tenantStatusFailure, { title: 'failing on purpose' });
      const tenantId = decodeURIComponent(match[1]);
      const status = this.tenantStatuses.get(tenantId) ?? 'active';
      if (status === 'missing') return json(res, 404, { title: 'unknown tenant' });
      json(res, 200, { tenantId, status });
    });
    this.routeMatching('GET', /^\/internal\/tenants\/([^/]+)\/users\/([^/]+)\/status$/, async (req, res, match) => {
      if (!(await hasGatewayContext(req, 'internal'))) return json(res, 401, { title: 'no gateway context' });
      const key = `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`;
      const state = this.userStates.get(key) ?? { status: 'active', role: this.issuedRoles.get(key) ?? 'admin' };
      if (state === 'missing') return json(res, 404, { title: 'unknown user' });
      json(res, 200, state);
    });
    return this.start();
  }

  /** Requests for a tenant's status this fake received. */
  statusLookups(tenantId?: string): RecordedRequest[] {
    return this.received(tenantId ? `/internal/tenants/${tenantId}/status` : '/internal/tenants/').filter((r) => !r.url.includes('/users/'));
  }

  /** Requests for a user's status this fake received. */
  userLookups(): RecordedRequest[] {
    return this.received('/internal/tenants/').filter((r) => r.url.includes('/users/'));
  }

  /** An access token as identity issues it; `overrides` may change or remove (undefined) claims. */
  token(claims: JWTPayload = {}, options: { expiresIn?: string | number; issuer?: string; kid?: string; key?: CryptoKey } = {}): Promise<string> {
    const all = { tid: 'tenant-1', roles: ['admin'], tenant_status: 'active', ...claims };
    const sub = typeof claims.sub === 'string' ? claims.sub : 'user-1';
    if (Array.isArray(all.roles) && typeof all.tid === 'string') this.issuedRoles.set(`${all.tid}/${sub}`, String(all.roles[0]));
    return new SignJWT(all)
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? this.kid, typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(options.issuer ?? 'tessera-identity')
      .setAudience('tessera')
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '5m')
      .sign(options.key ?? this.privateKey);
  }
}
