import { Controller } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { EventEnvelope } from '@tessera/contracts';
import { runtimeDatabaseUrl } from '@tessera/persistence';
import { currentTraceparent } from '@tessera/service-kit';
import type { TestDatabase } from '@tessera/testing';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { Inbox } from '../core/inbox';
import { OutboxRelay } from '../core/outbox-relay';
import { OutboxWriter } from '../core/outbox-writer';
import { PostgresTransport } from '../postgres/postgres.transport';
import { createMessagingTestDatabase, startMessagingTestApp } from '../testing/nest-test-app';
import { EventContext, EventsServer } from './events.server';
import { inboxRetentionMs, MessagingHealth, MessagingLifecycle, outboxRetentionMs, transportDatabaseUrl } from './messaging.module';

const SCHEMA = 'nestsvc';
const TENANT = '3a4b5c6d-1111-4222-8333-944455556666';

let ds: DataSource;
const seen: { type: string; id: string; partition: number }[] = [];
let failNextUpdate = true;
/** Per `identity.user.traced` event (by subject): the trace its handler ran in, and that of the event it wrote. */
const traces = new Map<string, { handler: string | undefined; written: string | undefined }>();

@Controller()
class UserEventsHandler {
  constructor(
    private readonly inbox: Inbox,
    private readonly outbox: OutboxWriter,
  ) {}

  @EventPattern('identity.user.traced')
  async onTraced(@Payload() e: EventEnvelope): Promise<void> {
    const handler = currentTraceparent();
    await this.inbox.run(e, async (tx) => {
      const written = await this.outbox.append(tx, { type: 'identity.user.followed', subject: e.subject ?? '', data: {} });
      traces.set(e.subject ?? '', { handler, written: written.traceparent });
    });
  }

  @EventPattern('identity.user.created')
  async onCreated(@Payload() e: EventEnvelope<{ name: string }>, @Ctx() ctx: unknown): Promise<void> {
    seen.push({ type: e.type, id: e.id, partition: (ctx as EventContext).meta.partition });
    await this.inbox.run(e, async (tx) => {
      await tx.manager.query(`INSERT INTO ${SCHEMA}.names (name) VALUES ($1)`, [e.data.name]);
    });
  }

  @EventPattern('identity.user.renamed')
  async onRenamed(@Payload() e: EventEnvelope<{ name: string }>): Promise<void> {
    await this.inbox.run(e, async (tx) => {
      await tx.manager.query(`INSERT INTO ${SCHEMA}.renames (name, txid) VALUES ($1, txid_current())`, [e.data.name]);
    });
  }

  @EventPattern('identity.user.updated')
  async onUpdated(@Payload() e: EventEnvelope<{ name: string }>): Promise<void> {
    seen.push({ type: e.type, id: e.id, partition: -1 });
    if (failNextUpdate) {
      failNextUpdate = false;
      throw new Error('transient failure');
    }
    await this.inbox.run(e, async (tx) => {
      await tx.manager.query(`INSERT INTO ${SCHEMA}.names (name) VALUES ($1)`, [e.data.name]);
    });
  }
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('MessagingModule + EventsServer (Nest)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const registry = new Registry();

  beforeAll(async () => {
    ({ db, ds } = await createMessagingTestDatabase('nestmsg', SCHEMA, [
      `CREATE TABLE ${SCHEMA}.names (name text NOT NULL)`,
      `CREATE TABLE ${SCHEMA}.renames (n serial PRIMARY KEY, name text NOT NULL, txid bigint NOT NULL)`,
    ]));
    app = await startMessagingTestApp(
      ds,
      {
        context: 'identity',
        schema: SCHEMA,
        groupId: 'nest-test',
        subscribeTo: ['identity'],
        transport: new PostgresTransport({
          url: db.url,
          partitions: 3,
          rebalanceIntervalMs: 200,
          backoff: { initialMs: 50, maxMs: 200 },
          onError: () => undefined,
        }),
        relay: { pollIntervalMs: 100, logger: { warn: () => undefined } },
        registry,
      },
      [UserEventsHandler],
    );
  });

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
    await db?.drop();
  });

  it('dispatches by type to @EventPattern handlers, ignores unknown types, retries a failed handler', async () => {
    const writer = app.get(OutboxWriter);
    await ds.transaction(async (manager) => {
      const tx = { manager, tenantId: TENANT };
      await writer.append(tx, { type: 'identity.user.created', subject: 'u1', data: { name: 'ada' } });
      await writer.append(tx, { type: 'identity.something.unknown', subject: 'u1', data: {} });
      await writer.append(tx, { type: 'identity.user.updated', subject: 'u1', data: { name: 'ada lovelace' } });
      await writer.append(tx, { type: 'identity.user.created', subject: 'u2', data: { name: 'grace' } });
    });
    await waitFor('all names', async () => (await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.names`))[0].n === 3);
    const names = (await ds.query(`SELECT name FROM ${SCHEMA}.names ORDER BY name`)).map((r: { name: string }) => r.name);
    expect(names).toEqual(['ada', 'ada lovelace', 'grace']);
    // The failing update was delivered again (not acknowledged the first time).
    expect(seen.filter((s) => s.type === 'identity.user.updated')).toHaveLength(2);
    expect(seen.some((s) => s.type === 'identity.something.unknown')).toBe(false);
    // Same key, same partition, handled in order: created before updated.
    const order = seen.map((s) => s.type);
    expect(order.indexOf('identity.user.created')).toBeLessThan(order.indexOf('identity.user.updated'));
  });

  it('runs each handler in the trace of its event, so the events it writes continue that trace', async () => {
    const writer = app.get(OutboxWriter);
    const trace = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await ds.transaction(async (manager) => {
      const tx = { manager, tenantId: TENANT };
      await writer.append(tx, { type: 'identity.user.traced', subject: 'traced', data: {}, traceparent: trace });
      await writer.append(tx, { type: 'identity.user.traced', subject: 'malformed', data: {}, traceparent: 'not-a-trace' });
      await writer.append(tx, { type: 'identity.user.traced', subject: 'untraced', data: {} });
    });
    await waitFor('three traced events handled', () => traces.size === 3);
    expect(traces.get('traced')).toEqual({ handler: trace, written: trace });
    expect(traces.get('malformed')).toEqual({ handler: undefined, written: undefined });
    expect(traces.get('untraced')).toEqual({ handler: undefined, written: undefined });
  });

  it("dispatches a partition's batch in one transaction: the handlers' inbox.run calls share it, unhandled types get no inbox row", async () => {
    const writer = app.get(OutboxWriter);
    const names = ['n1', 'n2', 'n3', 'n4', 'n5'];
    // One business transaction, one key: the relay publishes them together and they land in one partition read,
    // with an event of a type no handler takes in the middle.
    const renamed: EventEnvelope[] = [];
    let unknown: EventEnvelope | undefined;
    await ds.transaction(async (manager) => {
      const tx = { manager, tenantId: TENANT };
      for (const [i, name] of names.entries()) {
        renamed.push(await writer.append(tx, { type: 'identity.user.renamed', subject: 'u9', data: { name } }));
        if (i === 2) unknown = await writer.append(tx, { type: 'identity.user.unknown', subject: 'u9', data: {} });
      }
    });
    await waitFor('all renames', async () => (await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.renames`))[0].n === 5);
    const rows: { name: string; txid: string }[] = await ds.query(`SELECT name, txid FROM ${SCHEMA}.renames ORDER BY n`);
    expect(rows.map((r) => r.name)).toEqual(names);
    expect(new Set(rows.map((r) => r.txid)).size).toBe(1);
    // Only the handled events are recorded as processed: the unknown one was acknowledged without an inbox row.
    const claimed: { id: string }[] = await ds.query(`SELECT event_id AS id FROM ${SCHEMA}.processed_events WHERE event_id = ANY($1::uuid[])`, [
      [...renamed.map((e) => e.id), unknown?.id],
    ]);
    expect(claimed.map((r) => r.id).sort()).toEqual(renamed.map((e) => e.id).sort());
  });

  it('handles a batch tenant by tenant, in tenant id order, keeping the order within each tenant', async () => {
    const writer = app.get(OutboxWriter);
    const [low, high] = ['0a000000-1111-4222-8333-944455556666', 'fa000000-1111-4222-8333-944455556666'];
    // Interleaved, higher tenant first, all in one partition (one key) and one business transaction.
    const sent = [
      [high, 'h1'],
      [low, 'l1'],
      [high, 'h2'],
      [low, 'l2'],
    ] as const;
    await ds.query(`TRUNCATE ${SCHEMA}.renames`);
    await ds.transaction(async (manager) => {
      for (const [tenantId, name] of sent) {
        await writer.append({ manager, tenantId }, { type: 'identity.user.renamed', subject: 'shared-key', data: { name } });
      }
    });
    await waitFor('four renames', async () => (await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.renames`))[0].n === 4);
    const rows: { name: string; txid: string }[] = await ds.query(`SELECT name, txid FROM ${SCHEMA}.renames ORDER BY n`);
    expect(rows.map((r) => r.name)).toEqual(['l1', 'l2', 'h1', 'h2']);
    expect(new Set(rows.map((r) => r.txid)).size).toBe(1);
  });

  it('reports readiness and exposes relay metrics; the relay is active', async () => {
    const health = await app.get(MessagingHealth).check();
    expect(health).toEqual({ transport: 'postgres', relay: 'active' });
    expect(app.get(OutboxRelay).isActive).toBe(true);
    const published = await registry.getSingleMetric('outbox_published_total')?.get();
    expect(published?.values[0].value).toBeGreaterThanOrEqual(4);
    // Handled progress is committed within the transport's commit interval (200 ms by default).
    await waitFor('no lag', async () => (await app.get(EventsServer).consumer?.lag()) === 0, 5_000);
  });
});

describe('MessagingLifecycle shutdown', () => {
  it('stops the consumers before the final flush of the relay, so what the last handlers wrote is published', async () => {
    const calls: string[] = [];
    const step = (name: string) => async () => {
      calls.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 10));
      calls.push(`${name} done`);
    };
    const server = { close: step('consumers') } as unknown as EventsServer;
    const relay = { stop: step('relay') } as unknown as OutboxRelay;
    const transport = { close: step('transport') } as unknown as PostgresTransport;
    const lifecycle = new MessagingLifecycle({ context: 'identity', schema: SCHEMA, groupId: 'g' } as never, transport, relay, server);
    await lifecycle.beforeApplicationShutdown();
    await lifecycle.onApplicationShutdown();
    expect(calls.slice(0, 4)).toEqual(['consumers start', 'consumers done', 'relay start', 'relay done']);
    expect(calls.slice(-2)).toEqual(['transport start', 'transport done']);
  });
});

describe('OUTBOX_RETENTION_MS', () => {
  it('defaults to 0 (published rows deleted), takes whole milliseconds and names itself when invalid', () => {
    expect(outboxRetentionMs({})).toBe(0);
    expect(outboxRetentionMs({ OUTBOX_RETENTION_MS: '' })).toBe(0);
    expect(outboxRetentionMs({ OUTBOX_RETENTION_MS: '86400000' })).toBe(86_400_000);
    for (const bad of ['-1', '1.5', 'a day', '1e400']) {
      expect(() => outboxRetentionMs({ OUTBOX_RETENTION_MS: bad })).toThrow(/OUTBOX_RETENTION_MS/);
    }
  });
});

describe('INBOX_RETENTION_MS', () => {
  it('defaults to 30 days, takes whole milliseconds of at least a day and names itself when invalid', () => {
    expect(inboxRetentionMs({})).toBe(30 * 86_400_000);
    expect(inboxRetentionMs({ INBOX_RETENTION_MS: '' })).toBe(30 * 86_400_000);
    expect(inboxRetentionMs({ INBOX_RETENTION_MS: '864000000' })).toBe(864_000_000);
    for (const bad of ['-1', '0', '3600000', '1.5', 'a month', '1e400']) {
      expect(() => inboxRetentionMs({ INBOX_RETENTION_MS: bad })).toThrow(/INBOX_RETENTION_MS/);
    }
  });
});

describe('the postgres transport connection', () => {
  const opts = { context: 'orders' as const };
  const admin = 'postgres://postgres:secret@127.0.0.1:5432/tessera';
  // What PersistenceModule gives the data source from DATABASE_URL and DB_APP_PASSWORD.
  const dataSourceUrl = runtimeDatabaseUrl(admin, 'orders', 'app pw');

  it("is the service's runtime role derived from DATABASE_URL, not the superuser", () => {
    const url = new URL(transportDatabaseUrl(opts, { DATABASE_URL: admin, DB_APP_PASSWORD: 'app pw' }, dataSourceUrl) as string);
    expect([url.username, decodeURIComponent(url.password), url.host, url.pathname]).toEqual(['tessera_orders', 'app pw', '127.0.0.1:5432', '/tessera']);
  });

  it('prefers an explicit URL: the option, then <CONTEXT>_DATABASE_URL, then MESSAGING_DATABASE_URL', () => {
    const env = { DATABASE_URL: admin, DB_APP_PASSWORD: 'pw', ORDERS_DATABASE_URL: 'postgres://a@h/d', MESSAGING_DATABASE_URL: 'postgres://b@h/d' };
    expect(transportDatabaseUrl({ ...opts, databaseUrl: 'postgres://o@h/d' }, env, dataSourceUrl)).toBe('postgres://o@h/d');
    expect(transportDatabaseUrl(opts, env, dataSourceUrl)).toBe('postgres://a@h/d');
    expect(transportDatabaseUrl(opts, { ...env, ORDERS_DATABASE_URL: undefined }, dataSourceUrl)).toBe('postgres://b@h/d');
  });

  it('leaves the choice to createTransport when nothing can be derived', () => {
    expect(transportDatabaseUrl(opts, { DATABASE_URL: admin }, undefined)).toBeUndefined();
  });
});
