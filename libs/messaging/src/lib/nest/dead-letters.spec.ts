import { Controller } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type EventEnvelope } from '@tessera/contracts';
import { startKafkaMock } from '@tessera/testing';
import type { TestDatabase } from '@tessera/testing';
import pino from 'pino';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { DeadLetters, isTransientFailure, type DeadLetter } from '../core/dead-letters';
import { Inbox } from '../core/inbox';
import { OutboxWriter } from '../core/outbox-writer';
import type { EventTransport } from '../core/transport.port';
import { KafkaTransport } from '../kafka/kafka.transport';
import { partitionFor } from '../postgres/partitioner';
import { PostgresTransport } from '../postgres/postgres.transport';
import { createMessagingTestDatabase, startMessagingTestApp } from '../testing/nest-test-app';
import { EventsServer } from './events.server';
import { eventMaxAttempts } from './messaging.module';

const SCHEMA = 'dlsvc';
const TENANT = '3a4b5c6d-1111-4222-8333-944455556666';
const MAX_ATTEMPTS = 3;

/** Names whose handler throws (a bug, not an outage) until they are cured. */
const poisoned = new Set<string>();
/** Names whose handler fails this many more times with a serialization failure (SQLSTATE 40001): an outage. */
const transientFailures = new Map<string, number>();
const attempts = new Map<string, number>();

@Controller()
class NameHandler {
  constructor(private readonly inbox: Inbox) {}

  @EventPattern('identity.user.named')
  async onNamed(@Payload() e: EventEnvelope<{ name: string }>): Promise<void> {
    const name = e.data.name;
    attempts.set(name, (attempts.get(name) ?? 0) + 1);
    await this.inbox.run(e, async (tx) => {
      const left = transientFailures.get(name) ?? 0;
      if (left > 0) {
        transientFailures.set(name, left - 1);
        throw Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001' });
      }
      if (poisoned.has(name)) throw new Error(`cannot take the name ${name}`);
      await tx.manager.query(`INSERT INTO ${SCHEMA}.names (key, name) VALUES ($1, $2)`, [e.subject, name]);
    });
  }
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Harness {
  transport(db: TestDatabase): EventTransport;
  cleanup(): Promise<void>;
}

const quiet = pino({ level: 'silent' });

const transports: [string, () => Promise<Harness>][] = [
  [
    'postgres',
    async () => ({
      transport: (db) =>
        new PostgresTransport({ url: db.url, partitions: 3, rebalanceIntervalMs: 200, backoff: { initialMs: 20, maxMs: 100 }, onError: () => undefined }),
      cleanup: async () => undefined,
    }),
  ],
  [
    'kafka',
    async () => {
      const cluster = await startKafkaMock({ brokers: 3 });
      await cluster.createTopic('tessera.identity.events', 3);
      return {
        transport: () =>
          new KafkaTransport({
            brokers: cluster.brokers,
            clientId: 'dead-letters',
            logger: quiet,
            consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, retryBackoffMs: { min: 20, max: 100 } },
            retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
          }),
        cleanup: () => cluster.stop(),
      };
    },
  ],
];

describe.each(transports)('dead letters on the %s transport', (_kind, harness) => {
  let db: TestDatabase;
  let ds: DataSource;
  let app: INestApplication;
  let h: Harness;
  const registry = new Registry();

  const names = async (key: string): Promise<string[]> =>
    (await ds.query(`SELECT name FROM ${SCHEMA}.names WHERE key = $1 ORDER BY n`, [key])).map((r: { name: string }) => r.name);
  const letters = async (key: string): Promise<DeadLetter[]> =>
    (await app.get(DeadLetters).list({ limit: 100 })).items.filter((l) => l.partitionKey === key);
  /** A letter put in place as another member (or an earlier day) would have parked it: an open `failed` one by default. */
  const insertLetter = (l: { key: string; partition?: number; parkedDaysAgo?: number; resolvedDaysAgo?: number }) =>
    ds.query(
      `INSERT INTO ${SCHEMA}.dead_letters
         (consumer_group, event_id, tenant_id, partition_key, type, topic, partition, "offset", envelope, reason, error, attempts, parked_at, resolved_at, resolution)
       VALUES ('dl-test', gen_random_uuid(), $1, $2, 'identity.user.named', $3, $4, '0', '{}', 'failed', 'parked elsewhere', 3,
               now() - make_interval(days => $5), now() - make_interval(days => $6::int), CASE WHEN $6::int IS NULL THEN NULL ELSE 'discarded' END)`,
      [TENANT, l.key, TOPICS.identity, l.partition ?? 0, l.parkedDaysAgo ?? 0, l.resolvedDaysAgo ?? null],
    );
  /** One business transaction per call: events of one key in the given order. */
  const publish = async (events: { key: string; name: string }[]): Promise<EventEnvelope[]> =>
    ds.transaction(async (manager) => {
      const sent: EventEnvelope[] = [];
      for (const e of events) {
        sent.push(await app.get(OutboxWriter).append({ manager, tenantId: TENANT }, { type: 'identity.user.named', subject: e.key, data: { name: e.name } }));
      }
      return sent;
    });

  beforeAll(async () => {
    // The handler's bookkeeping is per transport.
    for (const m of [poisoned, transientFailures, attempts]) m.clear();
    h = await harness();
    ({ db, ds } = await createMessagingTestDatabase('deadletters', SCHEMA, [
      `CREATE TABLE ${SCHEMA}.names (n serial PRIMARY KEY, key text NOT NULL, name text NOT NULL)`,
    ]));

    app = await startApp();
  }, 120_000);

  const startApp = (overrides: { deadLetterRefreshMs?: number } = {}): Promise<INestApplication> =>
    startMessagingTestApp(
      ds,
      {
        context: 'identity',
        schema: SCHEMA,
        groupId: 'dl-test',
        subscribeTo: ['identity'],
        transport: h.transport(db),
        relay: { pollIntervalMs: 100, logger: { warn: () => undefined } },
        registry,
        maxAttempts: MAX_ATTEMPTS,
        deadLetterRefreshMs: overrides.deadLetterRefreshMs ?? 200,
      },
      [NameHandler],
    );

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
    await db?.drop();
    await h?.cleanup();
  });

  it('parks an event that keeps failing, holds the later events of its key behind it, and lets other keys through', async () => {
    poisoned.add('k1-bad');
    const [bad, behind] = await publish([
      { key: 'k1', name: 'k1-bad' },
      { key: 'k1', name: 'k1-after' },
    ]);
    await publish([{ key: 'other', name: 'other-ok' }]);
    await waitFor('the bad event parked and the next one held', async () => (await letters('k1')).length === 2);
    await waitFor('the other key applied', async () => (await names('other')).length === 1);

    const [first, second] = await letters('k1');
    expect(first).toMatchObject({ eventId: bad.id, reason: 'failed', attempts: MAX_ATTEMPTS, resolution: null, tenantId: TENANT });
    expect(first.error).toContain('cannot take the name k1-bad');
    expect(first.envelope).toMatchObject({ id: bad.id, type: 'identity.user.named', data: { name: 'k1-bad' } });
    expect(second).toMatchObject({ eventId: behind.id, reason: 'held', attempts: 0, resolution: null });
    // Tried MAX_ATTEMPTS times alone (and in its batch before, once or more, as the transport redelivers), then
    // left alone; the held one never ran.
    const tried = attempts.get('k1-bad') as number;
    expect(tried).toBeGreaterThan(MAX_ATTEMPTS);
    await new Promise((r) => setTimeout(r, 500));
    expect(attempts.get('k1-bad')).toBe(tried);
    expect(attempts.get('k1-after')).toBeUndefined();
    expect(await names('k1')).toEqual([]);
    // Neither is recorded as processed: a replay will apply them.
    const processed = await ds.query(`SELECT 1 FROM ${SCHEMA}.processed_events WHERE event_id = ANY($1::uuid[])`, [[bad.id, behind.id]]);
    expect(processed).toHaveLength(0);
    // The partition moved on: nothing is left to consume.
    await waitFor('no lag', async () => (await app.get(EventsServer).consumer?.lag()) === 0);
    await waitFor('the gauge counts both', async () => (await registry.getSingleMetric('messaging_dead_letters')?.get())?.values[0]?.value === 2);

    // A later event of the key is held too, not applied ahead of the letters.
    const [later] = await publish([{ key: 'k1', name: 'k1-later' }]);
    await waitFor('the later event held', async () => (await letters('k1')).length === 3);
    expect((await letters('k1'))[2]).toMatchObject({ eventId: later.id, reason: 'held' });
    expect(attempts.get('k1-later')).toBeUndefined();

    // Once the cause is fixed, a replay runs the key's letters in their order and the key flows again.
    poisoned.delete('k1-bad');
    const outcome = await app.get(EventsServer).replay('k1');
    expect(outcome.replayed.map((l) => l.eventId)).toEqual([bad.id, behind.id, later.id]);
    expect(outcome).toMatchObject({ failed: null, open: 0 });
    expect(await names('k1')).toEqual(['k1-bad', 'k1-after', 'k1-later']);
    expect((await letters('k1')).map((l) => l.resolution)).toEqual(['replayed', 'replayed', 'replayed']);
    await publish([{ key: 'k1', name: 'k1-next' }]);
    await waitFor('the next event applied directly', async () => (await names('k1')).length === 4);
    expect(await letters('k1')).toHaveLength(3);
    await waitFor('the gauge back at 0', async () => (await registry.getSingleMetric('messaging_dead_letters')?.get())?.values[0]?.value === 0);
  });

  it('never parks an event that fails for a transient reason: it is retried until the outage ends', async () => {
    transientFailures.set('t-ok', MAX_ATTEMPTS + 2);
    await publish([{ key: 't', name: 't-ok' }]);
    await waitFor('applied after the outage', async () => (await names('t')).length === 1);
    expect(attempts.get('t-ok')).toBeGreaterThanOrEqual(MAX_ATTEMPTS + 3);
    expect(await letters('t')).toEqual([]);
  });

  it('a replay that fails again stops there and keeps the order; discarding is allowed for the first letter only', async () => {
    poisoned.add('m-bad');
    const [bad, behind] = await publish([
      { key: 'm', name: 'm-bad' },
      { key: 'm', name: 'm-after' },
    ]);
    await waitFor('parked and held', async () => (await letters('m')).length === 2);
    const server = app.get(EventsServer);
    const tried = attempts.get('m-bad') as number;

    const again = await server.replay('m');
    expect(again.replayed).toEqual([]);
    expect(again.failed).toMatchObject({ eventId: bad.id, reason: 'failed', attempts: MAX_ATTEMPTS + 1 });
    expect(again.open).toBe(2);
    expect(await names('m')).toEqual([]);

    const [first, second] = await letters('m');
    expect(await server.discard(second)).toEqual({ discarded: false, open: 2 });
    expect(await server.discard(first)).toEqual({ discarded: true, open: 1 });
    expect((await letters('m')).map((l) => [l.eventId, l.resolution])).toEqual([
      [bad.id, 'discarded'],
      [behind.id, null],
    ]);
    const rest = await server.replay('m');
    expect(rest.replayed.map((l) => l.eventId)).toEqual([behind.id]);
    expect(await names('m')).toEqual(['m-after']);
    // The failed replay ran it once more; a discarded letter is not run by a replay: it was never applied.
    expect(attempts.get('m-bad')).toBe(tried + 1);
  });

  it('holds the events of a key with open letters from the first event after a restart', async () => {
    poisoned.add('r-bad');
    const [bad] = await publish([{ key: 'r', name: 'r-bad' }]);
    await waitFor('parked', async () => (await letters('r')).length === 1);
    // The service restarts (a new server reads the open letters before its first event), then the key's next
    // event arrives.
    await app.close();
    app = await startApp();
    const [after] = await publish([{ key: 'r', name: 'r-after' }]);
    await waitFor('the next event held', async () => (await letters('r')).length === 2);
    expect((await letters('r'))[1]).toMatchObject({ eventId: after.id, reason: 'held' });
    expect(attempts.get('r-after')).toBeUndefined();
    poisoned.delete('r-bad');
    const outcome = await app.get(EventsServer).replay('r');
    expect(outcome.replayed.map((l) => l.eventId)).toEqual([bad.id, after.id]);
    expect(await names('r')).toEqual(['r-bad', 'r-after']);
  });

  it("a member given another member's partitions reads the keys parked there before handling them", async () => {
    // A second member that never refreshes on its own timer: only the assignment can tell it about the letter.
    const second = await startApp({ deadLetterRefreshMs: 3_600_000 });
    const owned = () => app.get(EventsServer).consumer?.assignment?.() ?? [];
    await waitFor('the partitions split between the two members', () => owned().length > 0 && owned().length < 3);
    // A key of a partition the first member owns, parked "there" after the second member started.
    const key = ['z0', 'z1', 'z2', 'z3', 'z4', 'z5', 'z6', 'z7', 'z8', 'z9'].find((k) => owned().includes(`${TOPICS.identity}/${partitionFor(k, 3)}`)) as string;
    await insertLetter({ key, partition: partitionFor(key, 3) });
    // The first member leaves; the second is given its partitions.
    await app.close();
    app = second;
    await waitFor('the second member owns every partition', () => (app.get(EventsServer).consumer?.assignment?.() ?? []).length === 3);
    const [after] = await publish([{ key, name: `${key}-after` }]);
    await waitFor('the next event of the key held', async () => (await letters(key)).length === 2);
    expect((await letters(key))[1]).toMatchObject({ eventId: after.id, reason: 'held' });
    expect(await names(key)).toEqual([]);
    await app.get(EventsServer).discard((await letters(key))[0]);
    await app.get(EventsServer).replay(key);
    expect(await names(key)).toEqual([`${key}-after`]);
  });

  it('prunes letters resolved longer ago than the retention (30 days by default), never open ones', async () => {
    await insertLetter({ key: 'prune-old', parkedDaysAgo: 40, resolvedDaysAgo: 31 });
    await insertLetter({ key: 'prune-recent', parkedDaysAgo: 40, resolvedDaysAgo: 29 });
    await insertLetter({ key: 'prune-open', parkedDaysAgo: 40 });
    expect(await app.get(EventsServer).pruneDeadLetters()).toBe(1);
    const left = await ds.query(`SELECT partition_key AS key FROM ${SCHEMA}.dead_letters WHERE partition_key LIKE 'prune-%' ORDER BY 1`);
    expect(left.map((r: { key: string }) => r.key)).toEqual(['prune-open', 'prune-recent']);
    // The open one stays until an operator resolves it; this test resolves it so the next one sees none open.
    await ds.query(`UPDATE ${SCHEMA}.dead_letters SET resolved_at = now(), resolution = 'discarded' WHERE partition_key = 'prune-open'`);
  });

  it('lists letters oldest first, by status, a page at a time', async () => {
    const store = app.get(DeadLetters);
    const all = await store.list({ limit: 100 });
    expect(all.items.length).toBeGreaterThanOrEqual(5);
    const open = await store.list({ status: 'open', limit: 100 });
    expect(open.items).toEqual([]);
    const first = await store.list({ status: 'resolved', limit: 2 });
    expect(first.items).toHaveLength(2);
    const next = await store.list({ status: 'resolved', limit: 100, cursor: first.nextCursor as string });
    expect([...first.items, ...next.items].map((l) => l.id)).toEqual(all.items.map((l) => l.id));
    expect(next.nextCursor).toBeNull();
  });
});

describe('isTransientFailure', () => {
  it('takes database outages, conflicts and network errors for transient, through wrappers, and anything else for the event', () => {
    for (const code of ['40001', '40P01', '08006', '57P01', '53300', '55P03', '28P01', 'ECONNREFUSED', 'ECONNRESET']) {
      expect(isTransientFailure(Object.assign(new Error('x'), { code }))).toBe(true);
    }
    // Several attempts, all transient (connecting to each address of a host); one that is not makes the whole not.
    expect(isTransientFailure(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ETIMEDOUT' })]))).toBe(true);
    expect(isTransientFailure(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), new Error('b')]))).toBe(false);
    // What Nest's default filter leaves of an error says nothing of its cause: never counted.
    expect(isTransientFailure({ status: 'error', message: 'Internal server error' })).toBe(true);
    expect(isTransientFailure({ driverError: { code: '40001' } })).toBe(true);
    expect(isTransientFailure(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '08006' }) }))).toBe(true);
    expect(isTransientFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
    // A statement cancelled by its timeout (57014) may be the event's own doing; codes are whole SQLSTATEs.
    for (const code of ['23505', '23503', '22P02', '42703', '57014', '4000', '400011', undefined]) {
      expect(isTransientFailure(Object.assign(new Error('x'), { code }))).toBe(false);
    }
    expect(isTransientFailure(new TypeError("Cannot read properties of undefined (reading 'sku')"))).toBe(false);
    expect(isTransientFailure('a string')).toBe(false);
  });
});

describe('EVENT_MAX_ATTEMPTS', () => {
  it('defaults to 10, takes 0 (never park) to 1000, and names itself when invalid', () => {
    expect(eventMaxAttempts({})).toBe(10);
    expect(eventMaxAttempts({ EVENT_MAX_ATTEMPTS: '' })).toBe(10);
    expect(eventMaxAttempts({ EVENT_MAX_ATTEMPTS: '0' })).toBe(0);
    expect(eventMaxAttempts({ EVENT_MAX_ATTEMPTS: '25' })).toBe(25);
    for (const bad of ['-1', '1.5', 'ten', '1001']) {
      expect(() => eventMaxAttempts({ EVENT_MAX_ATTEMPTS: bad })).toThrow(/EVENT_MAX_ATTEMPTS/);
    }
  });
});
