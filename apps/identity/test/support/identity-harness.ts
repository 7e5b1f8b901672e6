import { randomBytes, randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { CONTEXT_HEADER, type CallerContext, type Role } from '@tessera/contracts';
import { ensureMessagingSchema } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, untilLockWaiters, type TestDatabase } from '@tessera/testing';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { Pool } from 'pg';
import request from 'supertest';
import { identityConfigSchema, type IdentityConfig } from '../../src/config';
import { IDENTITY_ENTITIES, IDENTITY_SCHEMA } from '../../src/entities';
import { startIdentity } from '../../src/identity-app';
import { IDENTITY_MIGRATIONS } from '../../src/migrations';

export const INTERNAL_SECRET = 'identity-tests-internal-token-secret-0123456789';
// Roles are cluster-wide and test files run in parallel: every file must provision the same password.
const APP_PASSWORD = 'identity-tests-runtime-password';

export async function generateSigningJwk(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid };
}

export function encryptionKey(kid: string): string {
  return `${kid}:${randomBytes(32).toString('base64')}`;
}

export interface HarnessOptions {
  env?: Record<string, string>;
}

export interface SignedUp {
  tenantId: string;
  userId: string;
  slug: string;
  email: string;
  password: string;
}

/** One identity service on a fresh migrated database, called as the gateway would call it. */
export class IdentityHarness {
  private constructor(
    readonly app: INestApplication,
    readonly db: TestDatabase,
    /** Superuser pool: sees through RLS, for assertions on raw rows. */
    readonly admin: Pool,
    readonly config: IdentityConfig,
    readonly runtimeUrl: string,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<IdentityHarness> {
    const db = await createTestDatabase('identity');
    await ensureMessagingSchema(db.url);
    await runMigrations({
      adminUrl: db.url,
      schema: IDENTITY_SCHEMA,
      migrations: IDENTITY_MIGRATIONS,
      entities: IDENTITY_ENTITIES,
      password: APP_PASSWORD,
      extraSchemas: ['messaging'],
    });
    const runtimeUrl = runtimeDatabaseUrl(db.url, IDENTITY_SCHEMA, APP_PASSWORD);
    const config = loadConfig(identityConfigSchema, {
      PORT: '0',
      LOG_LEVEL: 'silent',
      INTERNAL_TOKEN_SECRET: INTERNAL_SECRET,
      JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('test-key-1')]),
      CREDENTIALS_ENCRYPTION_KEYS: encryptionKey('ck1'),
      ...options.env,
    });
    const app = await startIdentity({ config, databaseUrl: runtimeUrl, handleSignals: false });
    return new IdentityHarness(app, db, new Pool({ connectionString: db.url, max: 2 }), config, runtimeUrl);
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.admin.end();
    await this.db.drop();
  }

  get http(): ReturnType<typeof request> {
    return request(this.app.getHttpServer());
  }

  /** The `x-tessera-context` value the gateway would send for `ctx`. */
  async context(ctx: Partial<CallerContext> = {}, ttlSeconds = 60): Promise<string> {
    return signCallerContext(
      { requestId: randomUUID(), principalType: 'anonymous', roles: [], scopes: [], ...ctx },
      INTERNAL_SECRET,
      ttlSeconds,
    );
  }

  anonymousHeaders(): Promise<Record<string, string>> {
    return this.context().then((token) => ({ [CONTEXT_HEADER]: token }));
  }

  /** The internal credential: what the gateway signs for its own calls and the operator tools sign. */
  internalHeaders(): Promise<Record<string, string>> {
    return this.context({ principalType: 'internal' }).then((token) => ({ [CONTEXT_HEADER]: token }));
  }

  /**
   * The operator's status change through the internal route (internal credential: a tenant-less context);
   * throws unless it answers 200.
   */
  async setTenantStatus(tenantId: string, status: 'trial' | 'active' | 'suspended', reason = 'test'): Promise<void> {
    const res = await this.http
      .put(`/internal/tenants/${tenantId}/status`)
      .set(await this.internalHeaders())
      .send({ status, reason });
    if (res.status !== 200) throw new Error(`status change failed: ${res.status} ${JSON.stringify(res.body)}`);
  }

  /** Headers of a signed-in user, as the gateway builds them from a verified access token. */
  async userHeaders(user: { tenantId: string; userId: string; role: Role }): Promise<Record<string, string>> {
    const token = await this.context({
      tenantId: user.tenantId,
      principalId: user.userId,
      principalType: 'user',
      roles: [user.role],
    });
    return { [CONTEXT_HEADER]: token };
  }

  /** What the gateway does with a bearer token: verify it against identity's JWKS and forward the claims. */
  async headersFromAccessToken(accessToken: string): Promise<Record<string, string>> {
    const jwks = (await this.http.get('/.well-known/jwks.json').set(await this.anonymousHeaders())).body as {
      keys: JWK[];
    };
    const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
      issuer: 'tessera-identity',
      audience: 'tessera',
      algorithms: ['ES256'],
    });
    return this.userHeaders({
      tenantId: String(payload['tid']),
      userId: String(payload.sub),
      role: (payload['roles'] as Role[])[0],
    });
  }

  async signup(overrides: { type?: 'single_brand' | 'mall'; slug?: string; email?: string } = {}): Promise<SignedUp> {
    const suffix = randomBytes(4).toString('hex');
    const slug = overrides.slug ?? `shop-${suffix}`;
    const email = overrides.email ?? `owner-${suffix}@example.com`;
    const password = 'correct horse battery';
    const res = await this.http
      .post('/v1/tenants')
      .set(await this.anonymousHeaders())
      .send({ name: `Shop ${suffix}`, slug, type: overrides.type, owner: { email, password, name: 'Owner' } });
    if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { tenantId: res.body.tenant.id, userId: res.body.user.id, slug, email, password };
  }

  /** Creates a user with `role` in the owner's tenant and returns its ids. */
  async addUser(
    owner: SignedUp,
    role: Role,
  ): Promise<{ tenantId: string; userId: string; role: Role; email: string; password: string }> {
    const email = `${role}-${randomBytes(4).toString('hex')}@example.com`;
    const password = 'another good password';
    const res = await this.http
      .post('/v1/users')
      .set(await this.userHeaders({ tenantId: owner.tenantId, userId: owner.userId, role: 'owner' }))
      .send({ email, name: `A ${role}`, role, password });
    if (res.status !== 201) throw new Error(`add user failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { tenantId: owner.tenantId, userId: res.body.id, role, email, password };
  }

  ownerOf(t: SignedUp): { tenantId: string; userId: string; role: Role } {
    return { tenantId: t.tenantId, userId: t.userId, role: 'owner' };
  }

  /** Waits until `count` backends wait on a lock (one a test holds as superuser); throws if they never do. */
  async untilLockWaiters(count: number): Promise<void> {
    if (!(await untilLockWaiters((sql, params) => this.admin.query(sql, params).then((r) => r.rows), count))) {
      throw new Error(`${count} backends never waited on a lock`);
    }
  }

  /**
   * Rows in each of identity's tables, across every tenant (superuser): a refused request must leave them all as
   * they were. Test files run their tests one at a time on their own database, so nothing else writes meanwhile.
   */
  async rowCounts(): Promise<Record<string, number>> {
    const tables = ['tenants', 'users', 'refresh_tokens', 'vendors', 'stores', 'api_keys', 'outbox_events'];
    const { rows } = await this.admin.query<Record<string, number>>(
      `SELECT ${tables.map((t) => `(SELECT count(*)::int FROM identity.${t}) AS ${t}`).join(', ')}`,
    );
    return rows[0];
  }

  async outboxTypes(tenantId: string): Promise<string[]> {
    const { rows } = await this.admin.query<{ type: string }>(
      'SELECT type FROM identity.outbox_events WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    return rows.map((r) => r.type);
  }
}

export function expectProblem(
  res: { status: number; headers: Record<string, string>; body: { status?: number } },
  status: number,
): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}
