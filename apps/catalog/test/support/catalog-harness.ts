import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import {
  CONTEXT_HEADER,
  IdentityEventTypes,
  type CallerContext,
  type EventEnvelope,
  type Role,
  type TenantCreatedV1,
  type VendorCreatedV1,
} from '@tessera/contracts';
import { createEnvelope, ensureMessagingSchema, type EventTransport } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Pool } from 'pg';
import request from 'supertest';
import { startCatalog } from '../../src/catalog-app';
import { catalogConfigSchema } from '../../src/config';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from '../../src/entities';
import { IdentityEventsController } from '../../src/identity/identity-events.controller';
import { CATALOG_MIGRATIONS } from '../../src/migrations';
import { installCatalogExtensions } from '../../src/migrations/extensions';

export const INTERNAL_SECRET = 'catalog-tests-internal-token-secret-0123456789';
// Roles are cluster-wide and test files run in parallel: every file must provision the same password.
export const APP_PASSWORD = 'catalog-tests-runtime-password';

export interface OutboxRow {
  type: string;
  subject: string;
  partition_key: string;
  envelope: { data: Record<string, unknown>; tenantid: string; type: string; subject: string };
}

/** A tenant user as the gateway forwards it. */
export interface Caller {
  tenantId: string;
  userId: string;
  role: Role;
}

/** One catalog service on a fresh migrated database, called as the gateway would call it. */
export class CatalogHarness {
  private constructor(
    readonly app: INestApplication,
    readonly db: TestDatabase,
    /** Superuser pool: sees through RLS, for assertions on raw rows. */
    readonly admin: Pool,
  ) {}

  /** `consumeEvents` with a `transport`: the running service reads identity's topic (else tests deliver events). */
  static async start(options: { consumeEvents?: boolean; transport?: (runtimeUrl: string) => EventTransport } = {}): Promise<CatalogHarness> {
    const db = await createTestDatabase('catalog');
    await ensureMessagingSchema(db.url);
    await installCatalogExtensions(db.url);
    await runMigrations({
      adminUrl: db.url,
      schema: CATALOG_SCHEMA,
      migrations: CATALOG_MIGRATIONS,
      entities: CATALOG_ENTITIES,
      password: APP_PASSWORD,
      extraSchemas: ['messaging'],
    });
    const config = loadConfig(catalogConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: INTERNAL_SECRET });
    const runtimeUrl = runtimeDatabaseUrl(db.url, CATALOG_SCHEMA, APP_PASSWORD);
    const app = await startCatalog({
      config,
      databaseUrl: runtimeUrl,
      transport: options.transport?.(runtimeUrl),
      // By default the tests deliver identity's events to the handler themselves (knowTenant, knowVendor).
      consumeEvents: options.consumeEvents ?? false,
      handleSignals: false,
    });
    return new CatalogHarness(app, db, new Pool({ connectionString: db.url, max: 2 }));
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.admin.end();
    await this.db.drop();
  }

  get http(): ReturnType<typeof request> {
    return request(this.app.getHttpServer());
  }

  /** A fresh tenant with a user of `role` (tenants live in identity; the catalog only sees their ids). */
  tenant(role: Role = 'owner'): Caller {
    return { tenantId: randomUUID(), userId: randomUUID(), role };
  }

  /**
   * Delivers identity.tenant.created to the catalog's handler (through its inbox), as the transport would, so that
   * the catalog knows the tenant's type. Returns the envelope, to deliver it again.
   */
  async knowTenant(caller: Caller, type: TenantCreatedV1['type']): Promise<EventEnvelope<TenantCreatedV1>> {
    const data: TenantCreatedV1 = {
      tenantId: caller.tenantId,
      slug: `t-${caller.tenantId.slice(0, 8)}`,
      name: 'Test tenant',
      type,
      defaultCurrency: 'EUR',
      plan: 'free',
      status: 'trial',
    };
    const e = createEnvelope({ source: 'identity', type: IdentityEventTypes.TenantCreated, subject: caller.tenantId, tenantId: caller.tenantId, data });
    await this.deliver(e);
    return e;
  }

  /** Delivers identity.vendor.created for a new vendor of the caller's tenant; returns the envelope. */
  async knowVendor(caller: Caller, vendorId: string = randomUUID()): Promise<EventEnvelope<VendorCreatedV1>> {
    const data: VendorCreatedV1 = { tenantId: caller.tenantId, vendorId, name: 'Brick Vendor', commissionRate: 1250 };
    const e = createEnvelope({ source: 'identity', type: IdentityEventTypes.VendorCreated, subject: vendorId, tenantId: caller.tenantId, data });
    await this.deliver(e);
    return e;
  }

  /** Hands an identity event to the catalog's handler, as the transport would (again, for a redelivery). */
  async deliver(e: EventEnvelope<unknown>): Promise<void> {
    const handler = this.app.get(IdentityEventsController);
    if (e.type === IdentityEventTypes.TenantCreated) await handler.onTenantCreated(e as EventEnvelope<TenantCreatedV1>);
    else if (e.type === IdentityEventTypes.VendorCreated) await handler.onVendorCreated(e as EventEnvelope<VendorCreatedV1>);
    else throw new Error(`the catalog consumes no ${e.type}`);
  }

  /** A mall tenant the catalog knows, with one vendor it knows. */
  async mallWithVendor(role: Role = 'owner'): Promise<{ caller: Caller; vendorId: string }> {
    const caller = this.tenant(role);
    await this.knowTenant(caller, 'mall');
    const { data } = await this.knowVendor(caller);
    return { caller, vendorId: data.vendorId };
  }

  /** The same tenant, another user with `role`. */
  as(caller: Caller, role: Role): Caller {
    return { ...caller, userId: randomUUID(), role };
  }

  async headers(caller: Caller | Partial<CallerContext>): Promise<Record<string, string>> {
    const ctx: CallerContext =
      'role' in caller && caller.role
        ? { requestId: randomUUID(), tenantId: caller.tenantId, principalId: caller.userId as string, principalType: 'user', roles: [caller.role], scopes: [] }
        : { requestId: randomUUID(), principalType: 'anonymous', roles: [], scopes: [], ...(caller as Partial<CallerContext>) };
    return { [CONTEXT_HEADER]: await signCallerContext(ctx, INTERNAL_SECRET, 60) };
  }

  async post(caller: Caller, path: string, body: unknown, headers: Record<string, string> = {}) {
    return this.http.post(path).set({ ...(await this.headers(caller)), ...headers }).send(body as object);
  }

  async patch(caller: Caller, path: string, body: unknown, headers: Record<string, string> = {}) {
    return this.http.patch(path).set({ ...(await this.headers(caller)), ...headers }).send(body as object);
  }

  async get(caller: Caller, path: string) {
    return this.http.get(path).set(await this.headers(caller));
  }

  /** Creates a product and fails the test with the response body if that does not answer 201. */
  async createProduct(caller: Caller, body: Record<string, unknown>): Promise<ProductBody> {
    const res = await this.post(caller, '/v1/products', body);
    if (res.status !== 201) throw new Error(`create product failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as ProductBody;
  }

  async outbox(tenantId: string): Promise<OutboxRow[]> {
    const { rows } = await this.admin.query<OutboxRow>(
      `SELECT type, envelope->>'subject' AS subject, partition_key, envelope FROM catalog.outbox_events WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
    return rows;
  }

  async counts(tenantId: string): Promise<{ products: number; variants: number; events: number }> {
    const { rows } = await this.admin.query<{ products: number; variants: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM catalog.products WHERE tenant_id = $1) AS products,
              (SELECT count(*)::int FROM catalog.variants WHERE tenant_id = $1) AS variants,
              (SELECT count(*)::int FROM catalog.outbox_events WHERE tenant_id = $1) AS events`,
      [tenantId],
    );
    return rows[0];
  }
}

export interface VariantBody {
  id: string;
  productId: string;
  sku: string;
  priceAmount: number;
  currency: string;
  compareAtAmount: number | null;
  fulfillment: string;
  weightGrams: number | null;
  options: Record<string, string>;
  status: string;
  effectiveStatus: string;
  version: number;
}

export interface ProductBody {
  id: string;
  title: string;
  description: string | null;
  status: string;
  vendorId: string | null;
  attributes: Record<string, unknown>;
  images: { url: string; alt: string | null }[];
  variants: VariantBody[];
  version: number;
}

export function expectProblem(res: { status: number; headers: Record<string, string>; body: { status?: number } }, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}

/** The `field` of every error of a 400 problem. */
export function errorFields(res: { body: { errors?: { field: string }[] } }): string[] {
  return (res.body.errors ?? []).map((e) => e.field);
}
