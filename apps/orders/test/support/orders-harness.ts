import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import {
  CatalogEventTypes,
  CONTEXT_HEADER,
  type CallerContext,
  type EventEnvelope,
  type Role,
  type VariantEventV1,
} from '@tessera/contracts';
import { createEnvelope, ensureMessagingSchema, type EventTransport } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Pool } from 'pg';
import request from 'supertest';
import { ordersConfigSchema } from '../../src/config';
import { ORDERS_MIGRATIONS, ORDERS_SCHEMA } from '../../src/migrations';
import { startOrders } from '../../src/orders-app';
import { OrderEventsController } from '../../src/saga/order-events.controller';
import { CatalogEventsController } from '../../src/variants/catalog-events.controller';

export const INTERNAL_SECRET = 'orders-tests-internal-token-secret-0123456789';
// Roles are cluster-wide and test files run in parallel: every file must provision the same password.
const APP_PASSWORD = 'orders-tests-runtime-password';

export interface HarnessOptions {
  consumeEvents?: boolean;
  transport?: (runtimeUrl: string) => EventTransport;
  /** Session defaults set on the test database before the service connects (ALTER DATABASE … SET), e.g. DateStyle. */
  databaseSettings?: Record<string, string>;
}

export interface Staff {
  tenantId: string;
  userId: string;
  role: Role;
}

/** One orders service on a fresh migrated database, called as the gateway would call it. */
export class OrdersHarness {
  private constructor(
    readonly app: INestApplication,
    readonly db: TestDatabase,
    /** Superuser pool: sees through RLS, for assertions on raw rows. */
    readonly admin: Pool,
    readonly runtimeUrl: string,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<OrdersHarness> {
    const db = await createTestDatabase('orders');
    await ensureMessagingSchema(db.url);
    await runMigrations({ adminUrl: db.url, schema: ORDERS_SCHEMA, migrations: ORDERS_MIGRATIONS, password: APP_PASSWORD, extraSchemas: ['messaging'] });
    const runtimeUrl = runtimeDatabaseUrl(db.url, ORDERS_SCHEMA, APP_PASSWORD);
    if (options.databaseSettings) {
      const setup = new Pool({ connectionString: db.url, max: 1 });
      for (const [name, value] of Object.entries(options.databaseSettings)) {
        await setup.query(`ALTER DATABASE "${db.name}" SET ${name} = '${value.replace(/'/g, "''")}'`);
      }
      await setup.end();
    }
    const config = loadConfig(ordersConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: INTERNAL_SECRET });
    const app = await startOrders({
      config,
      databaseUrl: runtimeUrl,
      transport: options.transport?.(runtimeUrl),
      consumeEvents: options.consumeEvents ?? false,
      handleSignals: false,
    });
    return new OrdersHarness(app, db, new Pool({ connectionString: db.url, max: 2 }), runtimeUrl);
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.admin.end();
    await this.db.drop();
  }

  get http(): ReturnType<typeof request> {
    return request(this.app.getHttpServer());
  }

  get saga(): OrderEventsController {
    return this.app.get(OrderEventsController);
  }

  get catalog(): CatalogEventsController {
    return this.app.get(CatalogEventsController);
  }

  staff(role: Role = 'owner', tenantId: string = randomUUID()): Staff {
    return { tenantId, userId: randomUUID(), role };
  }

  async headers(who: Staff | Partial<CallerContext>): Promise<Record<string, string>> {
    const ctx: Partial<CallerContext> =
      'role' in who ? { tenantId: who.tenantId, principalId: who.userId, principalType: 'user', roles: [who.role] } : who;
    const token = await signCallerContext(
      { requestId: randomUUID(), principalType: 'anonymous', roles: [], scopes: [], ...ctx },
      INTERNAL_SECRET,
      60,
    );
    return { [CONTEXT_HEADER]: token };
  }

  /** Feeds the catalog read model as catalog's events would (version 1 unless given). */
  async seedVariant(tenantId: string, v: Partial<VariantEventV1> & { sku: string }): Promise<VariantEventV1> {
    const data: VariantEventV1 = {
      tenantId,
      variantId: randomUUID(),
      productId: randomUUID(),
      priceAmount: 1500,
      currency: 'JPY',
      compareAtAmount: null,
      status: 'active',
      fulfillment: 'physical',
      version: 1,
      occurredAt: new Date().toISOString(),
      ...v,
    };
    await this.catalog.onVariantCreated(envelope('catalog', CatalogEventTypes.VariantCreated, tenantId, data.variantId, data, data.productId));
    return data;
  }

  async placeOrder(who: Staff, body: Record<string, unknown>, idempotencyKey?: string): Promise<request.Response> {
    const req = this.http.post('/v1/orders').set(await this.headers(who));
    if (idempotencyKey !== undefined) req.set('Idempotency-Key', idempotencyKey);
    return req.send(body);
  }

  async getOrder(who: Staff, id: string): Promise<request.Response> {
    return this.http.get(`/v1/orders/${id}`).set(await this.headers(who));
  }

  async outbox(tenantId: string): Promise<{ type: string; subject: string; data: Record<string, unknown> }[]> {
    const { rows } = await this.admin.query<{ envelope: EventEnvelope }>(
      'SELECT envelope FROM orders.outbox_events WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    return rows.map((r) => ({ type: r.envelope.type, subject: r.envelope.subject, data: r.envelope.data as Record<string, unknown> }));
  }

  async count(table: string, tenantId: string): Promise<number> {
    const { rows } = await this.admin.query<{ n: string }>(`SELECT count(*) AS n FROM orders.${table} WHERE tenant_id = $1`, [tenantId]);
    return Number(rows[0].n);
  }
}

export function envelope<T>(source: 'catalog' | 'inventory' | 'billing', type: string, tenantId: string, subject: string, data: T, partitionKey?: string): EventEnvelope<T> {
  return createEnvelope({ source, type, subject, tenantId, data, partitionKey });
}

export function orderBody(items: { sku: string; quantity: number }[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { items, customer: { name: 'Aiko Tanaka', email: 'aiko@example.com' }, paymentMethod: 'bank_transfer', ...extra };
}

export function expectProblem(res: { status: number; headers: Record<string, string>; body: { status?: number } }, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}
