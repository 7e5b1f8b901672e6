import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import {
  CONTEXT_HEADER,
  OrdersEventTypes,
  type CallerContext,
  type EventEnvelope,
  type OrderAwaitingPaymentV1,
  type Role,
} from '@tessera/contracts';
import { createEnvelope, ensureMessagingSchema, EventsServer } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Pool } from 'pg';
import request from 'supertest';
import { startBilling } from '../../src/billing-app';
import { billingConfigSchema } from '../../src/config';
import { BILLING_ENTITIES, BILLING_SCHEMA } from '../../src/entities';
import { BILLING_MIGRATIONS } from '../../src/migrations';

export const INTERNAL_SECRET = 'billing-tests-internal-token-secret-0123456789';
// Roles are cluster-wide and test files run in parallel: every file must provision the same password.
const APP_PASSWORD = 'billing-tests-runtime-password';

/** A raw payments row (snake_case, as pg returns it). */
export interface PaymentRow {
  id: string;
  order_id: string;
  attempt: number;
  retry_of: string | null;
  status: string;
  amount: string;
  currency: string;
  method: string;
  due_at: Date | null;
  refund_required: boolean;
  refund_reason: string | null;
  cancel_reason: string | null;
  failure_reason: string | null;
}

export interface OutboxRow {
  type: string;
  subject: string;
  partition_key: string;
  data: Record<string, unknown>;
}

/** One billing service on a fresh migrated database, called as the gateway would call it and fed orders events. */
export class BillingHarness {
  private constructor(
    readonly app: INestApplication,
    readonly db: TestDatabase,
    /** Superuser pool: sees through RLS, for assertions on raw rows. */
    readonly admin: Pool,
  ) {}

  static async start(): Promise<BillingHarness> {
    const db = await createTestDatabase('billing');
    await ensureMessagingSchema(db.url);
    await runMigrations({
      adminUrl: db.url,
      schema: BILLING_SCHEMA,
      migrations: BILLING_MIGRATIONS,
      entities: BILLING_ENTITIES,
      password: APP_PASSWORD,
      extraSchemas: ['messaging'],
    });
    const config = loadConfig(billingConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: INTERNAL_SECRET });
    const app = await startBilling({
      config,
      databaseUrl: runtimeDatabaseUrl(db.url, BILLING_SCHEMA, APP_PASSWORD),
      handleSignals: false,
      messaging: { relay: { pollIntervalMs: 50, logger: { warn: () => undefined } } },
    });
    return new BillingHarness(app, db, new Pool({ connectionString: db.url, max: 2 }));
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.admin.end();
    await this.db.drop();
  }

  get http(): ReturnType<typeof request> {
    return request(this.app.getHttpServer());
  }

  /** The headers the gateway sends for a user of `tenantId` with `role`. */
  async as(tenantId: string, role: Role, extra: Partial<CallerContext> = {}): Promise<Record<string, string>> {
    const token = await signCallerContext(
      { requestId: randomUUID(), tenantId, principalId: randomUUID(), principalType: 'user', roles: [role], scopes: [], ...extra },
      INTERNAL_SECRET,
      60,
    );
    return { [CONTEXT_HEADER]: token };
  }

  /** An orders event as the orders service's outbox would build it (subject and key: the order id). */
  orderEvent<T extends { orderId: string }>(tenantId: string, type: string, data: T): EventEnvelope<T> {
    return createEnvelope({ source: 'orders', type, subject: data.orderId, tenantId, data });
  }

  awaitingPayment(tenantId: string, overrides: Partial<OrderAwaitingPaymentV1> = {}): EventEnvelope<OrderAwaitingPaymentV1> {
    return this.orderEvent(tenantId, OrdersEventTypes.OrderAwaitingPayment, {
      orderId: randomUUID(),
      totalAmount: 12_500,
      currency: 'JPY',
      paymentMethod: 'bank_transfer',
      reservationId: randomUUID(),
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      ...overrides,
    });
  }

  /** Delivers an event the way the transport does: through the EventsServer's `@EventPattern` dispatch. */
  async deliver(event: EventEnvelope): Promise<void> {
    await this.app.get(EventsServer).dispatch(event, { topic: 'tessera.orders.events', partition: 0, offset: '0' });
  }

  async paymentOf(tenantId: string, orderId: string): Promise<PaymentRow | undefined> {
    return (await this.paymentsOf(tenantId, orderId))[0];
  }

  /** Every attempt of an order's payment, first to last. */
  async paymentsOf(tenantId: string, orderId: string): Promise<PaymentRow[]> {
    const { rows } = await this.admin.query<PaymentRow>(
      'SELECT * FROM billing.payments WHERE tenant_id = $1 AND order_id = $2 ORDER BY attempt',
      [tenantId, orderId],
    );
    return rows;
  }

  /** The payment row of an order that must have one. */
  async existingPayment(tenantId: string, orderId: string): Promise<PaymentRow> {
    const payment = await this.paymentOf(tenantId, orderId);
    if (!payment) throw new Error(`no payment for order ${orderId}`);
    return payment;
  }

  async paymentCount(tenantId: string, orderId: string): Promise<number> {
    const { rows } = await this.admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM billing.payments WHERE tenant_id = $1 AND order_id = $2',
      [tenantId, orderId],
    );
    return rows[0].n;
  }

  /** Billing's outbox rows about one order, in write order. */
  async outbox(tenantId: string, orderId: string): Promise<OutboxRow[]> {
    const { rows } = await this.admin.query<OutboxRow>(
      `SELECT type, envelope->>'subject' AS subject, partition_key, envelope->'data' AS data
         FROM billing.outbox_events WHERE tenant_id = $1 AND partition_key = $2 ORDER BY seq`,
      [tenantId, orderId],
    );
    return rows;
  }

  async outboxTypes(tenantId: string, orderId: string): Promise<string[]> {
    return (await this.outbox(tenantId, orderId)).map((r) => r.type);
  }
}

export function expectProblem(res: { status: number; headers: Record<string, string>; body: { status?: number } }, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}

export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
