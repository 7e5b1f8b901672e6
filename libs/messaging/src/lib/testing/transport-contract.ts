import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { EventEnvelope } from '@tessera/contracts';
import { createTestDatabase } from '@tessera/testing';
import type { TestDatabase } from '@tessera/testing';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { createEnvelope } from '../core/cloudevents';
import { Inbox } from '../core/inbox';
import { messagingTablesSql } from '../core/messaging-tables.migration';
import { OutboxRelay } from '../core/outbox-relay';
import type { OutboxRelayOptions } from '../core/outbox-relay';
import { OutboxWriter } from '../core/outbox-writer';
import type { ConsumerHandle, DeliveredEvent, DeliveryMeta, EventTransport } from '../core/transport.port';
import { effectsTableSql, recordEffect } from './contract-effects';

export interface TransportFixture {
  /** A new transport instance (not yet connected) on the fixture's broker or log; one per process role. */
  transport(): EventTransport;
  /** Environment under which `createTransport(env)` in a child process builds an equivalent transport. */
  childEnv: Record<string, string>;
  /** Makes the broker (or the transport's database) unreachable for every transport instance. */
  makeUnavailable(): Promise<void>;
  restore(): Promise<void>;
  /** Called before a topic is used, when the broker needs topics created up front (≥3 partitions). */
  createTopic?(topic: string): Promise<void>;
  /** Extra time a consumer group may need to settle after members join (default 0). */
  settleMs?: number;
  cleanup?(): Promise<void>;
}

interface Delivery {
  consumer: string;
  event: EventEnvelope<{ seq: number; hang?: boolean }>;
  meta: DeliveryMeta;
}

const SCHEMA = 'contract_svc';
const ROOT = path.resolve(__dirname, '../../../../..');

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** For each key, the order in which seqs were first seen must be 1, 2, 3...: no event before its predecessor. */
function expectPerKeyOrder(seen: { key: string; seq: number }[], expectedPerKey: Map<string, number>): void {
  const next = new Map<string, number>();
  const violations: string[] = [];
  for (const { key, seq } of seen) {
    const expected = next.get(key) ?? 1;
    if (seq === expected) next.set(key, expected + 1);
    else if (seq > expected) violations.push(`${key}: got ${seq} before ${expected}`);
  }
  expect(violations.slice(0, 5)).toEqual([]);
  for (const [key, count] of expectedPerKey) expect(`${key}:${(next.get(key) ?? 1) - 1}`).toEqual(`${key}:${count}`);
}

/**
 * The messaging contract every EventTransport passes (DESIGN.md "Events"): per-key order within a group
 * across partitions and members, at least once with the inbox absorbing duplicates through relay crashes,
 * consumer crashes and broker outages, and 10,000 events end to end. Call it from a spec file.
 */
export function describeTransportContract(name: string, makeFixture: () => Promise<TransportFixture>): void {
  describe(`EventTransport contract: ${name}`, () => {
    let fixture: TransportFixture;
    let db: TestDatabase;
    let dataSource: DataSource;
    const open: { stop(): Promise<void> }[] = [];
    let children: ChildProcess[] = [];

    beforeAll(async () => {
      fixture = await makeFixture();
      db = await createTestDatabase('contract');
      dataSource = new DataSource({ type: 'postgres', url: db.url, extra: { max: 20 } });
      await dataSource.initialize();
      await dataSource.query(`CREATE SCHEMA ${SCHEMA}`);
      for (const sql of messagingTablesSql(SCHEMA)) await dataSource.query(sql);
      await dataSource.query(effectsTableSql(SCHEMA));
    });

    afterEach(async () => {
      for (const c of children) c.kill('SIGKILL');
      children = [];
      // Stop in reverse order of creation: relays before the transports they publish through.
      while (open.length) await (open.pop() as { stop(): Promise<void> }).stop();
    });

    afterAll(async () => {
      await dataSource?.destroy();
      await db?.drop();
      await fixture?.cleanup?.();
    });

    const newTopic = async (): Promise<string> => {
      const topic = `tessera.contract${randomUUID().slice(0, 8)}.events`;
      await fixture.createTopic?.(topic);
      return topic;
    };

    const connected = async (): Promise<EventTransport> => {
      const t = fixture.transport();
      await t.connect();
      open.push({ stop: () => t.close() });
      return t;
    };

    const consume = async (
      transport: EventTransport,
      groupId: string,
      topic: string,
      consumer: string,
      deliveries: Delivery[],
      { batch = true }: { batch?: boolean } = {},
    ): Promise<ConsumerHandle> => {
      const inbox = new Inbox({ dataSource, schema: SCHEMA, groupId });
      const handleOne = async (event: EventEnvelope, meta: DeliveryMeta): Promise<void> => {
        deliveries.push({ consumer, event: event as Delivery['event'], meta });
        await inbox.run(event, (tx) => recordEffect(tx.manager, SCHEMA, event, consumer));
      };
      // Batched consumers run a partition's batch in one inbox transaction, as EventsServer does.
      const handle = await transport.subscribe({
        groupId,
        topics: [topic],
        handle: handleOne,
        ...(batch
          ? {
              handleBatch: (events: DeliveredEvent[]) =>
                inbox.runBatch(
                  async () => {
                    for (const { event, meta } of events) await handleOne(event, meta);
                  },
                  { events: events.map((e) => e.event) },
                ),
            }
          : {}),
      });
      open.push({ stop: () => handle.stop() });
      return handle;
    };

    const startRelay = (transport: EventTransport, extra: Partial<OutboxRelayOptions> = {}): OutboxRelay => {
      const relay = new OutboxRelay({
        dataSource,
        schema: SCHEMA,
        transport,
        pollIntervalMs: 50,
        lockRetryMs: 100,
        backoff: { initialMs: 50, maxMs: 1000 },
        logger: { warn: () => undefined },
        ...extra,
      });
      relay.start();
      open.push({ stop: () => relay.stop() });
      return relay;
    };

    /** Writes `perKey` events for each key through the outbox, `perTx` events per business transaction. */
    const writeOutbox = async (topic: string, keys: string[], perKey: number, startSeq = 1, perTx = 50): Promise<string[]> => {
      const writer = new OutboxWriter({ context: 'identity', schema: SCHEMA, topic });
      const events: { key: string; seq: number }[] = [];
      for (let s = startSeq; s < startSeq + perKey; s++) for (const key of keys) events.push({ key, seq: s });
      const ids: string[] = [];
      for (let i = 0; i < events.length; i += perTx) {
        const chunk = events.slice(i, i + perTx);
        await dataSource.transaction(async (manager) => {
          const written = await writer.appendAll(
            { manager, tenantId: randomUUID() },
            chunk.map((e) => ({ type: 'contract.thing.happened', subject: e.key, data: { seq: e.seq } })),
          );
          ids.push(...written.map((w) => w.id));
        });
      }
      return ids;
    };

    const effectsOf = async (ids: string[]): Promise<{ event_id: string; key: string; seq: number; n: string }[]> =>
      dataSource.query(`SELECT event_id, key, seq, n FROM ${SCHEMA}.effects WHERE event_id = ANY($1::uuid[]) ORDER BY n`, [ids]);

    const expectExactlyOnce = async (ids: string[]): Promise<{ key: string; seq: number }[]> => {
      const effects = await effectsOf(ids);
      const counts = new Map<string, number>();
      for (const e of effects) counts.set(e.event_id, (counts.get(e.event_id) ?? 0) + 1);
      expect([...counts.values()].filter((c) => c > 1)).toEqual([]);
      expect(counts.size).toBe(ids.length);
      return effects;
    };

    const keysOf = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

    it('keeps per-key order within a group across ≥3 partitions and 2 consumers', async () => {
      const topic = await newTopic();
      const groupId = `order-${randomUUID()}`;
      const deliveries: Delivery[] = [];
      const a = await consume(await connected(), groupId, topic, 'a', deliveries);
      // One member handles batches in one transaction, the other event by event: both paths keep the order.
      const b = await consume(await connected(), groupId, topic, 'b', deliveries, { batch: false });
      const owned = (h: ConsumerHandle): number => (h.assignment ? h.assignment().length : 1);
      await waitFor('both members to own partitions', () => owned(a) > 0 && owned(b) > 0, 20_000);
      await new Promise((r) => setTimeout(r, fixture.settleMs ?? 0));
      const publisher = await connected();
      const keys = keysOf(`k${randomUUID().slice(0, 4)}`, 40);
      const perKey = 25;
      for (let seq = 1; seq <= perKey; seq++) {
        await publisher.publish(
          topic,
          keys.map((key) =>
            createEnvelope({ source: 'contract', type: 'contract.thing.happened', subject: key, tenantId: randomUUID(), data: { seq } }),
          ),
        );
      }
      await waitFor('all events handled', () => new Set(deliveries.map((d) => d.event.id)).size >= keys.length * perKey, 60_000);
      expectPerKeyOrder(
        deliveries.map((d) => ({ key: d.event.partitionkey, seq: d.event.data.seq })),
        new Map(keys.map((k) => [k, perKey])),
      );
      // Both members of the group took part.
      for (const c of ['a', 'b']) expect(deliveries.filter((d) => d.consumer === c).length).toBeGreaterThan(0);
      expect(new Set(deliveries.map((d) => d.meta.partition)).size).toBeGreaterThanOrEqual(3);
      // A key lives on one partition.
      const partitionOfKey = new Map<string, Set<number>>();
      for (const d of deliveries) {
        const s = partitionOfKey.get(d.event.partitionkey) ?? new Set<number>();
        s.add(d.meta.partition);
        partitionOfKey.set(d.event.partitionkey, s);
      }
      expect([...partitionOfKey.values()].every((s) => s.size === 1)).toBe(true);
    });

    it('relay dying between publish and mark: duplicates only, absorbed by the inbox (no loss, one effect)', async () => {
      const topic = await newTopic();
      const groupId = `relaycrash-${randomUUID()}`;
      const deliveries: Delivery[] = [];
      await consume(await connected(), groupId, topic, 'a', deliveries);
      const keys = keysOf('r', 10);
      const ids = await writeOutbox(topic, keys, 20);
      let crashes = 0;
      // Two relays on one outbox: one active, one standby. The active one "dies" after its first
      // publish, before marking: its session is destroyed (lock released), and whichever relay takes
      // the lock next republishes the unmarked batch.
      const crashing = async (): Promise<void> => {
        if (crashes++ === 0) throw new Error('relay crashed between publish and mark');
      };
      startRelay(await connected(), { afterPublish: crashing, batchSize: 50 });
      startRelay(await connected(), { afterPublish: crashing, batchSize: 50 });
      await waitFor('every event applied', async () => (await effectsOf(ids)).length >= ids.length, 60_000);
      await waitFor('outbox marked', async () => {
        const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox_events WHERE published_at IS NULL`);
        return n === 0;
      }, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(crashes).toBeGreaterThan(1);
      // The crashed batch really was delivered twice...
      expect(deliveries.length).toBeGreaterThan(ids.length);
      // ...and still had one effect each, in per-key order.
      const effects = await expectExactlyOnce(ids);
      expectPerKeyOrder(effects, new Map(keys.map((k) => [k, 20])));
    });

    it('consumer killed inside a handler: the event is redelivered and has one effect', async () => {
      const topic = await newTopic();
      const groupId = `consumercrash-${randomUUID()}`;
      // Register the group and topic before the child starts, so it reads from the first event.
      const publisher = await connected();
      const child = fork(path.join(__dirname, 'contract-child-consumer.ts'), [], {
        cwd: ROOT,
        execArgv: ['-r', '@swc-node/register'],
        env: {
          ...process.env,
          ...fixture.childEnv,
          SWC_NODE_PROJECT: path.join(ROOT, 'tsconfig.base.json'),
          CONTRACT_DB_URL: db.url,
          CONTRACT_SCHEMA: SCHEMA,
          CONTRACT_GROUP: groupId,
          CONTRACT_TOPIC: topic,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      const messages: { kind: string; id?: string }[] = [];
      child.on('message', (m) => messages.push(m as { kind: string; id?: string }));
      await waitFor('child consumer ready', () => messages.some((m) => m.kind === 'ready'), 60_000);
      await new Promise((r) => setTimeout(r, fixture.settleMs ?? 0));
      const key = 'victim';
      const events = Array.from({ length: 10 }, (_, i) =>
        createEnvelope({
          source: 'contract',
          type: 'contract.thing.happened',
          subject: key,
          tenantId: randomUUID(),
          data: { seq: i + 1, hang: i === 4 },
        }),
      );
      await publisher.publish(topic, events);
      await waitFor('child inside the handler of event 5', () => messages.some((m) => m.kind === 'in-handler'), 60_000);
      expect(messages.find((m) => m.kind === 'in-handler')?.id).toBe(events[4].id);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const applied = await effectsOf(events.map((e) => e.id));
      // 5 was in flight: its transaction died with the process, and with it the events of its batch before it (the
      // child handles batches in one transaction). Whatever committed is a prefix of 1-4, so never 5 or later.
      const committedSeqs = applied.map((e) => e.seq);
      expect(committedSeqs).toEqual([1, 2, 3, 4].slice(0, committedSeqs.length));

      const deliveries: Delivery[] = [];
      await consume(await connected(), groupId, topic, 'survivor', deliveries);
      await waitFor('survivor handled the rest', async () => (await effectsOf(events.map((e) => e.id))).length >= 10, 60_000);
      expect(deliveries.some((d) => d.event.id === events[4].id)).toBe(true);
      const effects = await expectExactlyOnce(events.map((e) => e.id));
      expect(effects.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('broker or database away for a while and back: nothing lost, nothing applied twice', async () => {
      const topic = await newTopic();
      const groupId = `outage-${randomUUID()}`;
      const deliveries: Delivery[] = [];
      const registry = new Registry();
      await consume(await connected(), groupId, topic, 'a', deliveries);
      await consume(await connected(), groupId, topic, 'b', deliveries);
      startRelay(await connected(), { registry, batchSize: 100 });
      const keys = keysOf('o', 20);
      const ids = await writeOutbox(topic, keys, 5, 1);
      await waitFor('first wave applied', async () => (await effectsOf(ids)).length >= ids.length, 60_000);

      await fixture.makeUnavailable();
      let restored = false;
      try {
        ids.push(...(await writeOutbox(topic, keys, 5, 6)));
        await waitFor(
          'the relay to fail publishing',
          async () => ((await registry.getSingleMetric('outbox_publish_failures_total')?.get())?.values[0]?.value ?? 0) > 0,
          30_000,
        );
        ids.push(...(await writeOutbox(topic, keys, 5, 11)));
        await new Promise((r) => setTimeout(r, 1500));
        await fixture.restore();
        restored = true;
      } finally {
        if (!restored) await fixture.restore();
      }
      ids.push(...(await writeOutbox(topic, keys, 5, 16)));
      await waitFor('every event applied after the outage', async () => (await effectsOf(ids)).length >= ids.length, 90_000);
      const effects = await expectExactlyOnce(ids);
      expectPerKeyOrder(effects, new Map(keys.map((k) => [k, 20])));
    });

    it('10,000 events end to end: outbox → relay → transport → inbox', async () => {
      const topic = await newTopic();
      const groupId = `bulk-${randomUUID()}`;
      const deliveries: Delivery[] = [];
      await consume(await connected(), groupId, topic, 'a', deliveries);
      await consume(await connected(), groupId, topic, 'b', deliveries);
      const keys = keysOf('bulk', 200);
      const relay = startRelay(await connected(), { batchSize: 500 });
      const [{ base }] = await dataSource.query(`SELECT coalesce(max(n), 0) AS base FROM ${SCHEMA}.effects`);
      const started = Date.now();
      const ids = await writeOutbox(topic, keys, 50, 1, 100);
      expect(ids).toHaveLength(10_000);
      relay.nudge();
      // Cheap progress check (rows added since the start); exactly-once is asserted below.
      await waitFor('10,000 effects', async () => {
        const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.effects WHERE n > $1`, [base]);
        return n >= ids.length;
      }, 150_000);
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`[contract ${name}] 10,000 events end to end in ${seconds.toFixed(1)} s\n`);
      const effects = await expectExactlyOnce(ids);
      expectPerKeyOrder(effects, new Map(keys.map((k) => [k, 50])));
      expect(new Set(deliveries.map((d) => d.consumer)).size).toBe(2);
    });
  });
}
