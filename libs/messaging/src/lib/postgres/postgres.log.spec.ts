import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { EventEnvelope } from '@tessera/contracts';
import { createTestDatabase } from '@tessera/testing';
import type { TestDatabase } from '@tessera/testing';
import { createEnvelope } from '../core/cloudevents';
import type { ConsumerHandle } from '../core/transport.port';
import { createTransport } from '../create-transport';
import { ensureMessagingSchema } from './messaging-schema';
import { partitionFor } from './partitioner';
import { PostgresTransport } from './postgres.transport';

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const event = (key: string, seq: number): EventEnvelope =>
  createEnvelope({ source: 't', type: 't.thing.happened', subject: key, tenantId: randomUUID(), data: { seq } });

describe('postgres transport: log, offsets and group membership', () => {
  let db: TestDatabase;
  const transports: PostgresTransport[] = [];
  const open = (partitions = 4): PostgresTransport => {
    const t = new PostgresTransport({
      url: db.url,
      partitions,
      rebalanceIntervalMs: 150,
      pollIntervalMs: 100,
      backoff: { initialMs: 20, maxMs: 200 },
      onError: () => undefined,
    });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    db = await createTestDatabase('pglog');
    await ensureMessagingSchema(db.url);
    // Idempotent, also when several migrators race.
    await Promise.all([ensureMessagingSchema(db.url), ensureMessagingSchema(db.url)]);
  });

  afterEach(async () => {
    while (transports.length) await (transports.pop() as PostgresTransport).close();
  });

  afterAll(async () => {
    await db.drop();
  });

  it('concurrent publishers get gap-free offsets per partition, committed in offset order', async () => {
    const topic = `t.${randomUUID()}`;
    const a = open();
    const b = open();
    await Promise.all([a.connect(), b.connect()]);
    // A slow transaction holding a partition head blocks the next publisher of that partition until
    // it commits, so no reader can ever see offset n+1 while n is still invisible.
    const key = 'same-key';
    const p = partitionFor(key, 4);
    const blocker = new Client({ connectionString: db.url });
    await blocker.connect();
    await a.publish(topic, [event(key, 0)]);
    await blocker.query('BEGIN');
    await blocker.query(`SELECT * FROM messaging.partition_heads WHERE topic = $1 AND partition = $2 FOR UPDATE`, [topic, p]);
    let published = false;
    const pending = b.publish(topic, [event(key, 1)]).then(() => {
      published = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(published).toBe(false);
    await blocker.query('COMMIT');
    await blocker.end();
    await pending;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).publish(topic, Array.from({ length: 10 }, (_, j) => event(`k${j}`, i)))),
    );
    const c = new Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query<{ partition: number; n: number; lo: string; hi: string }>(
      `SELECT partition, count(*)::int AS n, min("offset") AS lo, max("offset") AS hi FROM messaging.events WHERE topic = $1 GROUP BY partition`,
      [topic],
    );
    await c.end();
    expect(rows.reduce((s, r) => s + r.n, 0)).toBe(202);
    for (const r of rows) {
      expect(Number(r.lo)).toBe(0);
      expect(Number(r.hi)).toBe(r.n - 1);
    }
  });

  it('two members split the partitions evenly; a leaving member hands its partitions over; lag counts uncommitted', async () => {
    const topic = `t.${randomUUID()}`;
    const groupId = `g-${randomUUID()}`;
    const handled: string[] = [];
    const sub = { groupId, topics: [topic], handle: async (e: EventEnvelope) => void handled.push(e.id) };
    const a = await open().subscribe(sub);
    const b = await open().subscribe(sub);
    const owned = (h: ConsumerHandle): string[] => (h.assignment ? h.assignment() : []);
    await waitFor('a 2/2 split', () => owned(a).length === 2 && owned(b).length === 2);
    expect(new Set([...owned(a), ...owned(b)]).size).toBe(4);
    await b.stop();
    await waitFor('a takes everything', () => owned(a).length === 4);

    const publisher = open();
    const events = Array.from({ length: 30 }, (_, i) => event(`key-${i % 7}`, i));
    await publisher.publish(topic, events);
    await waitFor('handled', () => handled.length === 30);
    await waitFor('lag 0', async () => (await a.lag()) === 0);
    await a.stop();
    await publisher.publish(topic, [event('x', 1), event('y', 2)]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const c = await open().subscribe({ ...sub, handle: () => gate });
    expect(await c.lag()).toBe(2);
    release();
    await waitFor('lag back to 0', async () => (await c.lag()) === 0);
  });

  it('members of one group that read different topics (a rolling deploy adding one) leave no partition unowned', async () => {
    const [shared, added] = [`t.zeta.${randomUUID()}`, `t.alpha.${randomUUID()}`];
    const groupId = `g-${randomUUID()}`;
    const handled = new Set<string>();
    const handle = async (e: EventEnvelope) => void handled.add(e.id);
    // The old version reads one topic, the new one both. Each member used to split its own topic list over every
    // member of the group, so the new member took only half of `added`'s partitions and nobody the rest.
    const before = await open().subscribe({ groupId, topics: [shared], handle });
    const after = await open().subscribe({ groupId, topics: [added, shared], handle });
    const owned = (h: ConsumerHandle): string[] => (h.assignment ? h.assignment() : []);
    await waitFor('every partition owned once', () => owned(before).length + owned(after).length === 8);
    expect(owned(before).every((k) => k.startsWith(shared))).toBe(true);
    expect(owned(after).filter((k) => k.startsWith(added))).toHaveLength(4);
    expect(new Set([...owned(before), ...owned(after)]).size).toBe(8);

    const publisher = open();
    const events = [shared, added].flatMap((topic) => Array.from({ length: 20 }, (_, i) => ({ topic, e: event(`key-${i}`, i) })));
    for (const { topic, e } of events) await publisher.publish(topic, [e]);
    await waitFor('every event handled', () => handled.size === events.length);
  });

  it('a failing handler is retried without moving past its message', async () => {
    const topic = `t.${randomUUID()}`;
    const seen: number[] = [];
    let failures = 0;
    const t = open(1);
    await t.subscribe({
      groupId: 'retry',
      topics: [topic],
      handle: async (e) => {
        const seq = (e.data as { seq: number }).seq;
        seen.push(seq);
        if (seq === 2 && failures < 3) {
          failures++;
          throw new Error('not yet');
        }
      },
    });
    await t.publish(topic, [1, 2, 3].map((i) => event('k', i)));
    await waitFor('all handled', () => seen.includes(3));
    expect(seen).toEqual([1, 2, 2, 2, 2, 3]);
  });

  it('ping fails while the database is unreachable; pruning removes only what every group committed', async () => {
    const topic = `t.${randomUUID()}`;
    const t = open(1);
    await t.connect();
    await t.ping();
    await t.publish(topic, [1, 2, 3, 4].map((i) => event('k', i)));
    const c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(
      `INSERT INTO messaging.consumer_offsets (group_id, topic, partition, committed_offset) VALUES ('g1', $1, 0, 3), ('g2', $1, 0, 1)`,
      [topic],
    );
    const pruner = new PostgresTransport({ url: db.url, retentionMs: 0, onError: () => undefined });
    transports.push(pruner);
    // Other tests' topics share the log: count this topic's rows only.
    expect(await pruner.prune()).toBeGreaterThanOrEqual(1);
    const { rows } = await c.query(`SELECT "offset" FROM messaging.events WHERE topic = $1 ORDER BY "offset"`, [topic]);
    expect(rows.map((r) => Number(r.offset))).toEqual([1, 2, 3]);
    await c.end();

    const unreachable = new PostgresTransport({ url: db.url.replace(/:(\d+)\//, ':1/'), onError: () => undefined });
    await expect(unreachable.ping()).rejects.toThrow();
    await unreachable.close();
  });

  it('createTransport picks postgres without KAFKA_BROKERS and kafka with it', async () => {
    const pg = createTransport({ DATABASE_URL: db.url }, { clientId: 'x' });
    expect(pg.kind).toBe('postgres');
    await pg.close();
    expect(() => createTransport({}, { clientId: 'x' })).toThrow(/DATABASE_URL/);
    const kafka = createTransport({ KAFKA_BROKERS: '127.0.0.1:1, 127.0.0.1:2' }, { clientId: 'x' });
    expect(kafka.kind).toBe('kafka');
  });

  it('commits progress at most every commitIntervalMs while events keep coming, then once the partition is empty', async () => {
    const topic = `t.${randomUUID()}`;
    // Polling too slow to matter: the worker reads when a publish wakes it, or when a commit falls due.
    const t = new PostgresTransport({ url: db.url, partitions: 1, pollIntervalMs: 60_000, commitIntervalMs: 3_000, onError: () => undefined });
    transports.push(t);
    await t.connect();
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    const offset = async (): Promise<number | null> => {
      const { rows } = await admin.query<{ o: string }>(
        `SELECT committed_offset AS o FROM messaging.consumer_offsets WHERE group_id = 'lazy' AND topic = $1`,
        [topic],
      );
      return rows.length ? Number(rows[0].o) : null;
    };
    let consumer: ConsumerHandle | undefined;
    try {
      const seen: number[] = [];
      consumer = await t.subscribe({ groupId: 'lazy', topics: [topic], handle: async (e) => void seen.push((e.data as { seq: number }).seq) });
      await t.publish(topic, [event('k', 1)]);
      // The first progress of a partition is committed at once...
      await waitFor('first event committed', async () => (await offset()) === 1);
      await t.publish(topic, [event('k', 2)]);
      await waitFor('second event handled', () => seen.length === 2);
      // ...the next only when the interval has passed since (the read then finds the partition empty), although the
      // event is handled already.
      expect(await offset()).toBe(1);
      await waitFor('second event committed', async () => (await offset()) === 2, 10_000);
      expect(seen).toEqual([1, 2]);
      expect(await consumer.lag()).toBe(0);
    } finally {
      await consumer?.stop();
      await admin.end();
    }
  });

  it('stores envelopes as given and upgrades a log whose envelopes were jsonb, keeping its rows', async () => {
    const old = await createTestDatabase('pglogold');
    const admin = new Client({ connectionString: old.url });
    await admin.connect();
    try {
      await ensureMessagingSchema(old.url);
      // A log as an earlier release created it, with one event in it.
      await admin.query(`ALTER TABLE messaging.events ALTER COLUMN envelope TYPE jsonb USING envelope::jsonb`);
      const before = event('k', 7);
      await admin.query(`INSERT INTO messaging.events (topic, partition, "offset", key, envelope) VALUES ('t.old', 0, 0, 'k', $1)`, [
        JSON.stringify(before),
      ]);
      await ensureMessagingSchema(old.url);
      const type = await admin.query(`SELECT pg_typeof(envelope)::text AS t, envelope FROM messaging.events`);
      expect(type.rows).toEqual([{ t: 'json', envelope: before }]);
      // A published envelope comes back exactly as given, a text containing \u0000 included (jsonb would refuse it).
      const t = new PostgresTransport({ url: old.url, partitions: 1, pollIntervalMs: 100, onError: () => undefined });
      try {
        const e = createEnvelope({ source: 't', type: 't.thing.happened', subject: 'k', tenantId: randomUUID(), data: { note: 'a\u0000b', seq: 8 } });
        await t.publish('t.new', [e]);
        const { rows } = await admin.query(`SELECT envelope::text AS raw FROM messaging.events WHERE topic = 't.new'`);
        expect(rows.map((r) => JSON.parse(r.raw))).toEqual([e]);
      } finally {
        await t.close();
      }
    } finally {
      await admin.end();
      await old.drop();
    }
  });
});
