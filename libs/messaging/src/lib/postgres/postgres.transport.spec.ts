import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase } from '@tessera/testing';
import type { TestDatabase } from '@tessera/testing';
import { describeTransportContract } from '../testing/transport-contract';
import { ensureMessagingSchema } from './messaging-schema';
import { PostgresTransport } from './postgres.transport';

async function admin(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * The transport connects as its own LOGIN role, like a service's runtime role. "Database away" is
 * real: the role is switched to NOLOGIN and every backend of it is terminated, so publishers,
 * consumers, listeners and group sessions all lose their connections and cannot reconnect until
 * the role can log in again.
 */
describeTransportContract('postgres', async () => {
  const db: TestDatabase = await createTestDatabase('pgtransport');
  const role = `msg_rt_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await admin(db.url, `CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS`);
  await ensureMessagingSchema(db.url, { grantTo: [role] });
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  return {
    transport: () =>
      new PostgresTransport({
        url: url.toString(),
        partitions: 4,
        rebalanceIntervalMs: 250,
        pollIntervalMs: 250,
        backoff: { initialMs: 50, maxMs: 1000 },
        onError: () => undefined,
      }),
    childEnv: { MESSAGING_DATABASE_URL: url.toString() },
    makeUnavailable: async () => {
      await admin(db.url, `ALTER ROLE ${role} NOLOGIN`);
      await admin(db.url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
    },
    restore: async () => {
      await admin(db.url, `ALTER ROLE ${role} LOGIN`);
    },
    cleanup: async () => {
      await db.drop();
      await admin(db.url.replace(/\/[^/]*$/, '/postgres'), `DROP ROLE IF EXISTS ${role}`);
    },
  };
});

describe('postgres transport: topic registration', () => {
  it('gives every transport the same partition count when many register a new topic at the same moment', async () => {
    const db: TestDatabase = await createTestDatabase('pgtopics');
    await ensureMessagingSchema(db.url);
    const transports = Array.from({ length: 12 }, (_, i) => new PostgresTransport({ url: db.url, partitions: 3 + i, onError: () => undefined }));
    try {
      for (let round = 0; round < 5; round++) {
        const topic = `tessera.race${round}.events`;
        const counts = await Promise.all(transports.map((t) => t.partitionsOf(topic)));
        // Whoever inserted first decided it; nobody failed or saw another number.
        expect(new Set(counts).size).toBe(1);
      }
    } finally {
      await Promise.all(transports.map((t) => t.close()));
      await db.drop();
    }
  });
});

describe('postgres transport: what a service role may write in the shared log', () => {
  it("publishes and moves offsets only for its own context; reads every topic", async () => {
    const db: TestDatabase = await createTestDatabase('pgconfine');
    const context = `ctx${Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('')}`;
    const role = `tessera_${context}`;
    const password = randomBytes(12).toString('hex');
    await admin(db.url, `CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS`);
    await ensureMessagingSchema(db.url, { grantTo: [role] });
    await ensureMessagingSchema(db.url, { grantTo: [role] }); // again, as every service's migration does: a no-op
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const superuser = new PostgresTransport({ url: db.url, onError: () => undefined });
    const service = new PostgresTransport({ url: url.toString(), onError: () => undefined });
    const envelope = (topic: string) => ({
      specversion: '1.0' as const,
      id: randomBytes(16).toString('hex').replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'),
      source: 'test',
      type: `${topic}.happened`, // only a label here
      subject: 's',
      time: new Date().toISOString(),
      datacontenttype: 'application/json' as const,
      tenantid: '00000000-0000-4000-8000-000000000001',
      partitionkey: 'k',
      data: {},
    });
    const client = new Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await service.publish(`tessera.${context}.events`, [envelope('own')]);
      await expect(service.publish('tessera.billing.events', [envelope('forged')])).rejects.toThrow(/row-level security/);
      await superuser.publish('tessera.billing.events', [envelope('real')]);
      // Reading another context's topic is what consuming is.
      const { rows } = await client.query(`SELECT envelope->>'type' AS type FROM messaging.events WHERE topic = 'tessera.billing.events'`);
      expect(rows.map((r) => r.type)).toEqual(['real.happened']);
      // Its own group's offsets, yes; another group's, no (neither written nor moved).
      await client.query(`INSERT INTO messaging.consumer_offsets (group_id, topic, partition, committed_offset) VALUES ($1, 'tessera.billing.events', 0, 1)`, [context]);
      await expect(
        client.query(`INSERT INTO messaging.consumer_offsets (group_id, topic, partition, committed_offset) VALUES ('billing', 'tessera.billing.events', 1, 99)`),
      ).rejects.toThrow(/row-level security/);
      await admin(db.url, `INSERT INTO messaging.consumer_offsets (group_id, topic, partition, committed_offset) VALUES ('billing', 'tessera.billing.events', 0, 0)`);
      const moved = await client.query(`UPDATE messaging.consumer_offsets SET committed_offset = 1000 WHERE group_id = 'billing'`);
      expect(moved.rowCount).toBe(0);
      const deleted = await client.query(`DELETE FROM messaging.events WHERE topic = 'tessera.billing.events'`);
      expect(deleted.rowCount).toBe(0);
    } finally {
      await client.end();
      await service.close();
      await superuser.close();
      await db.drop();
      await admin(db.url.replace(/\/[^/]*$/, '/postgres'), `DROP ROLE IF EXISTS ${role}`);
    }
  });
});

describe('postgres transport: a handler that keeps failing', () => {
  it('keeps its retry backoff while new events arrive on its partition (each publish used to force a retry)', async () => {
    const db: TestDatabase = await createTestDatabase('pgpoison');
    await ensureMessagingSchema(db.url);
    const topic = 'tessera.poison.events';
    const transport = new PostgresTransport({ url: db.url, partitions: 1, backoff: { initialMs: 100, maxMs: 10_000 }, onError: () => undefined });
    const attempts: number[] = [];
    const envelope = (seq: number) => ({
      specversion: '1.0' as const,
      id: randomBytes(16).toString('hex').replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'),
      source: 'test',
      type: 'poison.thing.happened',
      subject: 'k',
      time: new Date().toISOString(),
      datacontenttype: 'application/json' as const,
      tenantid: '00000000-0000-4000-8000-000000000001',
      partitionkey: 'k',
      data: { seq },
    });
    try {
      await transport.subscribe({
        groupId: 'poisoned',
        topics: [topic],
        handle: async (event) => {
          if ((event.data as { seq: number }).seq !== 0) return;
          attempts.push(Date.now());
          throw new Error('always fails');
        },
      });
      await transport.publish(topic, [envelope(0)]);
      // By then the delay between attempts has grown past a second.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(attempts.length).toBeGreaterThanOrEqual(3);
      const start = Date.now();
      for (let seq = 1; seq <= 50; seq++) {
        await transport.publish(topic, [envelope(seq)]);
        await new Promise((r) => setTimeout(r, 20));
      }
      const during = attempts.filter((t) => t >= start).length;
      expect(during).toBeLessThanOrEqual(3);
    } finally {
      await transport.close();
      await db.drop();
    }
  });
});
