import { randomUUID } from 'node:crypto';
import { TOPICS } from '@tessera/contracts';
import { Kafka, logLevel, type Admin, type IHeaders } from 'kafkajs';
import { Client } from 'pg';
import type { Platform } from './platform';

/**
 * The consumer groups of the order-to-cash saga and the topics each reads (the services' MessagingModule
 * `groupId`/`subscribeTo`): inventory reserves on orders' events and learns SKUs from the catalog, orders follows
 * the catalog, inventory and billing, billing opens and closes payments on orders' events.
 */
export const SAGA_GROUPS: Record<string, string[]> = {
  inventory: [TOPICS.orders, TOPICS.catalog],
  orders: [TOPICS.catalog, TOPICS.inventory, TOPICS.billing],
  billing: [TOPICS.orders],
};
const SAGA_TOPICS = [...new Set(Object.values(SAGA_GROUPS).flat())].sort();
const ALL_TOPICS = Object.values(TOPICS).sort();

/**
 * What a test needs from the transport under the platform to redeliver events the way the transport itself would.
 * Every method works on the saga's groups and topics (SAGA_GROUPS).
 */
export interface EventLog {
  /** Events each consumer group has not handled yet (handled = its offset is committed past them). */
  lag(): Promise<Record<string, number>>;
  /** Events ever published, per topic (every topic of the platform, TOPICS). */
  published(): Promise<Record<string, number>>;
  /**
   * Moves every group's committed offsets back to the oldest event still in the log, as if their commits had been
   * lost, and makes the services pick that up (the platform is running again when this resolves). Resolves with
   * each group's lag right after the rewind, before anything was read again.
   */
  rewind(): Promise<Record<string, number>>;
  /**
   * Publishes every event of the saga's topics once more, unchanged (same id, key and partition), as a relay does
   * when it crashed after publishing and before marking its rows published. Resolves with the copies per topic.
   */
  duplicate(): Promise<Record<string, number>>;
}

export type EventLogFactory = (platform: Platform) => EventLog;

async function withDb<T>(platform: Platform, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: platform.adminUrl(), application_name: 'tessera-e2e' });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** Per service schema (every schema with an outbox), how many of its outbox's events are not published yet. */
export function unpublished(platform: Platform): Promise<Record<string, number>> {
  return withDb(platform, async (db) => {
    const { rows: schemas } = await db.query<{ schema: string }>(
      `SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'outbox_events' ORDER BY 1`,
    );
    const out: Record<string, number> = {};
    for (const { schema } of schemas) {
      const { rows } = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${schema.replace(/"/g, '""')}".outbox_events WHERE published_at IS NULL`,
      );
      out[schema] = Number(rows[0].n);
    }
    return out;
  });
}

/** Number of deadlocks PostgreSQL has detected in the platform's database since the cluster started. */
export function deadlocks(platform: Platform): Promise<number> {
  return withDb(platform, async (db) => {
    const { rows } = await db.query<{ n: string }>(`SELECT coalesce(sum(deadlocks), 0) AS n FROM pg_stat_database`);
    return Number(rows[0].n);
  });
}

/**
 * The `postgres` transport's log (schema `messaging` of the embedded database, see
 * libs/messaging/src/lib/postgres): offsets per group in `consumer_offsets`, events in `events`.
 */
export const postgresEventLog: EventLogFactory = (platform) => {
  const groups = Object.keys(SAGA_GROUPS);
  const lagIn = async (db: Client): Promise<Record<string, number>> => {
    const { rows } = await db.query<{ group_id: string; lag: string | null }>(
      `SELECT g.group_id, sum(h.next_offset - coalesce(o.committed_offset, 0)) AS lag
         FROM unnest($1::text[], $2::text[]) AS g(group_id, topics_csv)
         JOIN messaging.partition_heads h ON h.topic = ANY(string_to_array(g.topics_csv, ','))
         LEFT JOIN messaging.consumer_offsets o ON o.group_id = g.group_id AND o.topic = h.topic AND o.partition = h.partition
        GROUP BY g.group_id`,
      [groups, groups.map((g) => SAGA_GROUPS[g].join(','))],
    );
    return Object.fromEntries(groups.map((g) => [g, Number(rows.find((r) => r.group_id === g)?.lag ?? 0)]));
  };
  return {
    lag: () => withDb(platform, lagIn),
    published: () =>
      withDb(platform, async (db) => {
        const { rows } = await db.query<{ topic: string; n: string }>(
          `SELECT topic, sum(next_offset) AS n FROM messaging.partition_heads WHERE topic = ANY($1::text[]) GROUP BY topic`,
          [ALL_TOPICS],
        );
        return Object.fromEntries(ALL_TOPICS.map((t) => [t, Number(rows.find((r) => r.topic === t)?.n ?? 0)]));
      }),
    rewind: () =>
      withDb(platform, async (db) => {
        // Back to the oldest event each partition still holds, as `--to-earliest` would.
        await db.query(
          `UPDATE messaging.consumer_offsets o
              SET committed_offset = e.low, updated_at = now()
             FROM (SELECT topic, partition, min("offset") AS low FROM messaging.events GROUP BY topic, partition) e
            WHERE o.group_id = ANY($1::text[]) AND e.topic = o.topic AND e.partition = o.partition`,
          [groups],
        );
        const rewound = await lagIn(db);
        // A running member keeps its position in memory and only finds out at its next commit. Cutting the
        // members' sessions (the connections that hold their partition locks) is what a crash or a network cut
        // does: each member drops its partitions, takes them again and starts from the committed offset.
        const { rowCount } = await db.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tessera-consumer'`,
        );
        if (!rowCount) throw new Error('no consumer sessions (application_name tessera-consumer) to cut');
        return rewound;
      }),
    duplicate: () =>
      withDb(platform, async (db) => {
        await db.query('BEGIN');
        try {
          // As a publisher does: take the partition heads (in order, like PostgresTransport.publish), append at the
          // head, bump it. Copies keep their partition, key and envelope (so their id), and their order.
          await db.query(
            `SELECT 1 FROM messaging.partition_heads WHERE topic = ANY($1::text[]) ORDER BY topic, partition FOR UPDATE`,
            [SAGA_TOPICS],
          );
          const { rows } = await db.query<{ topic: string; n: string }>(
            `WITH src AS (
               SELECT topic, partition, key, envelope,
                      row_number() OVER (PARTITION BY topic, partition ORDER BY "offset") AS rn,
                      count(*) OVER (PARTITION BY topic, partition) AS n
                 FROM messaging.events WHERE topic = ANY($1::text[])),
             heads AS (
               UPDATE messaging.partition_heads h SET next_offset = h.next_offset + c.n
                 FROM (SELECT DISTINCT topic, partition, n FROM src) c
                WHERE h.topic = c.topic AND h.partition = c.partition
               RETURNING h.topic, h.partition, h.next_offset - c.n AS first),
             ins AS (
               INSERT INTO messaging.events (topic, partition, "offset", key, envelope)
               SELECT s.topic, s.partition, h.first + s.rn - 1, s.key, s.envelope
                 FROM src s JOIN heads h USING (topic, partition)
               RETURNING topic)
             SELECT topic, count(*) AS n FROM ins GROUP BY topic`,
            [SAGA_TOPICS],
          );
          await db.query('COMMIT');
          // An empty payload wakes every reader (consumers also poll).
          await db.query(`SELECT pg_notify('tessera_messaging', '')`);
          return Object.fromEntries(rows.map((r) => [r.topic, Number(r.n)]));
        } catch (e) {
          await db.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      }),
  };
};

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The `kafka` transport's log on the brokers `brokers()` gives (the librdkafka mock cluster of the Kafka spec).
 *
 * Rewinding: Kafka only lets a group's offsets be reset while the group has no members (kafkajs' admin.setOffsets
 * refuses otherwise, and real brokers reject commits from outside the group's generation), and running members
 * keep their positions in memory anyway. So, as an operator would: stop the platform, reset each group, start it
 * again. kafkajs' admin.setOffsets/resetOffsets cannot be used here: they first ask DescribeGroups, which the mock
 * does not implement ("The Kafka server does not support the requested API version"). What they then do is done
 * directly instead: join the empty group as its only member and commit the earliest offsets.
 *
 * Two habits of the mock shape the timings: after members leave, a group waits out the departed members' session
 * timeout (the services' is 30 s) before answering the next JoinGroup, and a joiner whose own session times out while
 * it waits never gets its answer (kafkajs then times the request out and rejoins). The resetting member therefore
 * uses a short rebalance timeout (its JoinGroup times out quickly and is retried until the group answers) and a short
 * session, so the services, when they come back, wait only that long for the group.
 */
export function kafkaEventLog(brokers: () => string[]): EventLogFactory {
  return (platform) => {
    const kafka = () => new Kafka({ clientId: `e2e-redelivery-${randomUUID().slice(0, 8)}`, brokers: brokers(), logLevel: logLevel.NOTHING });
    const withAdmin = async <T>(work: (admin: Admin, k: Kafka) => Promise<T>): Promise<T> => {
      const k = kafka();
      const admin = k.admin();
      await admin.connect();
      try {
        return await work(admin, k);
      } finally {
        await admin.disconnect();
      }
    };
    const lagOf = async (admin: Admin): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const [groupId, topics] of Object.entries(SAGA_GROUPS)) {
        let lag = 0;
        const committed = await admin.fetchOffsets({ groupId, topics });
        for (const topic of topics) {
          const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
          for (const end of await admin.fetchTopicOffsets(topic)) {
            const at = Number(done.find((p) => p.partition === end.partition)?.offset ?? -1);
            lag += Math.max(0, Number(end.high) - (at >= 0 ? at : Number(end.low)));
          }
        }
        out[groupId] = lag;
      }
      return out;
    };
    /** The oldest offset of every partition of the saga's topics, read one topic at a time. */
    const earliestOffsets = async (admin: Admin): Promise<Map<string, { partition: number; offset: string }[]>> => {
      // Sequential on purpose: kafkajs' admin answered concurrent fetchTopicOffsets calls with an empty result for
      // some topics (a CI run failed with "Cannot destructure property 'partitions' of 'high.pop(...)'").
      const out = new Map<string, { partition: number; offset: string }[]>();
      for (const topic of SAGA_TOPICS) out.set(topic, (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.low })));
      return out;
    };
    const resetGroup = async (k: Kafka, groupId: string, topics: string[], earliest: Map<string, { partition: number; offset: string }[]>): Promise<void> => {
      const member = k.consumer({
        groupId,
        sessionTimeout: 6_000,
        rebalanceTimeout: 3_000,
        heartbeatInterval: 1_000,
        maxWaitTimeInMs: 100,
        allowAutoTopicCreation: false,
        retry: { retries: 30, initialRetryTime: 300, maxRetryTime: 2_000 },
      });
      const joined = new Promise<void>((resolve) =>
        member.on(member.events.GROUP_JOIN, () => {
          member.pause(topics.map((topic) => ({ topic })));
          resolve();
        }),
      );
      await member.connect();
      try {
        await member.subscribe({ topics, fromBeginning: true });
        await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
        await timeout(joined, 150_000, `joining consumer group ${groupId} to reset its offsets`);
        await member.commitOffsets(topics.flatMap((topic) => (earliest.get(topic) ?? []).map((p) => ({ topic, ...p }))));
      } finally {
        await member.disconnect();
      }
    };
    return {
      lag: () => withAdmin(lagOf),
      published: () =>
        withAdmin(async (admin) => {
          const out: Record<string, number> = {};
          for (const topic of ALL_TOPICS) out[topic] = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
          return out;
        }),
      rewind: async () => {
        await platform.stop();
        const rewound = await withAdmin(async (admin, k) => {
          const earliest = await earliestOffsets(admin);
          await Promise.all(Object.entries(SAGA_GROUPS).map(([groupId, topics]) => resetGroup(k, groupId, topics, earliest)));
          return lagOf(admin);
        });
        await platform.restart();
        return rewound;
      },
      duplicate: () =>
        withAdmin(async (admin, k) => {
          // Read every event of the saga's topics with a group of our own (the services' groups stay as they are).
          const ends = new Map<string, number>();
          for (const topic of SAGA_TOPICS) {
            for (const p of await admin.fetchTopicOffsets(topic)) {
              if (Number(p.high) > Number(p.low)) ends.set(`${topic}/${p.partition}`, Number(p.high));
            }
          }
          const copies: { topic: string; partition: number; key: Buffer | null; value: Buffer | null; headers?: IHeaders }[] = [];
          const reader = k.consumer({ groupId: `e2e-copy-${randomUUID()}`, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
          await reader.connect();
          try {
            await reader.subscribe({ topics: SAGA_TOPICS, fromBeginning: true });
            const pending = new Set(ends.keys());
            const read = new Promise<void>((resolve) => {
              void reader.run({
                eachMessage: async ({ topic, partition, message }) => {
                  const tp = `${topic}/${partition}`;
                  const end = ends.get(tp);
                  if (end === undefined || Number(message.offset) >= end) return;
                  copies.push({ topic, partition, key: message.key, value: message.value, headers: message.headers });
                  if (Number(message.offset) === end - 1) pending.delete(tp);
                  if (pending.size === 0) resolve();
                },
              });
              if (pending.size === 0) resolve();
            });
            await timeout(read, 120_000, 'reading the saga topics from the beginning');
          } finally {
            await reader.disconnect();
          }
          const producer = k.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 1 });
          const sent: Record<string, number> = {};
          await producer.connect();
          try {
            for (const topic of SAGA_TOPICS) {
              const messages = copies.filter((c) => c.topic === topic).map(({ partition, key, value, headers }) => ({ partition, key, value, headers }));
              if (messages.length > 0) await producer.send({ topic, acks: -1, messages });
              sent[topic] = messages.length;
            }
          } finally {
            await producer.disconnect();
          }
          return sent;
        }),
    };
  };
}
