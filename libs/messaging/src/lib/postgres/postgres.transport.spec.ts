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

  it("registers any topic it reads but changes or deletes only its own topic's row", async () => {
    const db: TestDatabase = await createTestDatabase('pgtopicrows');
    const randomContext = () => `ctx${Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('')}`;
    const [owner, reader, unused] = [randomContext(), randomContext(), randomContext()];
    const urls = new Map<string, string>();
    for (const context of [owner, reader]) {
      const password = randomBytes(12).toString('hex');
      await admin(db.url, `CREATE ROLE tessera_${context} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS`);
      const url = new URL(db.url);
      url.username = `tessera_${context}`;
      url.password = password;
      urls.set(context, url.toString());
    }
    await ensureMessagingSchema(db.url, { grantTo: [`tessera_${owner}`, `tessera_${reader}`] });
    await ensureMessagingSchema(db.url, { grantTo: [`tessera_${owner}`, `tessera_${reader}`] }); // again: the topics policies too are created once
    const ownTopic = `tessera.${owner}.events`;
    // A topic nobody publishes yet: its first reader registers it.
    const unpublished = `tessera.${unused}.events`;
    const publisher = new PostgresTransport({ url: urls.get(owner) as string, partitions: 3, onError: () => undefined });
    const consumer = new PostgresTransport({ url: urls.get(reader) as string, partitions: 5, pollIntervalMs: 100, onError: () => undefined });
    const later = new PostgresTransport({ url: urls.get(reader) as string, partitions: 5, onError: () => undefined });
    const client = new Client({ connectionString: urls.get(reader) });
    await client.connect();
    const received: string[] = [];
    try {
      expect(await publisher.partitionsOf(ownTopic)).toBe(3);
      await consumer.subscribe({ groupId: reader, topics: [ownTopic, unpublished], handle: async (e) => void received.push(e.subject) });
      expect(await consumer.partitionsOf(ownTopic)).toBe(3);
      expect(await consumer.partitionsOf(unpublished)).toBe(5);

      const updated = await client.query(`UPDATE messaging.topics SET partitions = 1 WHERE topic = $1`, [ownTopic]);
      expect(updated.rowCount).toBe(0);
      const deleted = await client.query(`DELETE FROM messaging.topics WHERE topic = $1`, [ownTopic]);
      expect(deleted.rowCount).toBe(0);
      await expect(
        client.query(`INSERT INTO messaging.topics (topic, partitions) VALUES ($1, 1) ON CONFLICT (topic) DO UPDATE SET partitions = 1`, [ownTopic]),
      ).rejects.toThrow(/row-level security/);
      // Nor the row it registered itself: that topic is not its to publish on either.
      expect((await client.query(`DELETE FROM messaging.topics WHERE topic = $1`, [unpublished])).rowCount).toBe(0);
      // Transports that start afterwards still see the owner's partition count.
      expect(await later.partitionsOf(ownTopic)).toBe(3);

      await publisher.publish(ownTopic, [
        {
          specversion: '1.0' as const,
          id: randomBytes(16).toString('hex').replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'),
          source: 'test',
          type: `${owner}.thing.happened`,
          subject: 'delivered',
          time: new Date().toISOString(),
          datacontenttype: 'application/json' as const,
          tenantid: '00000000-0000-4000-8000-000000000001',
          partitionkey: 'k',
          data: {},
        },
      ]);
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(received).toEqual(['delivered']);
    } finally {
      await client.end();
      await Promise.all([publisher.close(), consumer.close(), later.close()]);
      await db.drop();
      for (const context of [owner, reader]) await admin(db.url.replace(/\/[^/]*$/, '/postgres'), `DROP ROLE IF EXISTS tessera_${context}`);
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
