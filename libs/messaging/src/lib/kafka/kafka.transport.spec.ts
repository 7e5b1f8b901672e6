import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import pino from 'pino';
import type { EventEnvelope } from '@tessera/contracts';
import { startKafkaMock, type KafkaMockCluster } from '@tessera/testing';
import { createEnvelope } from '../core/cloudevents';
import { partitionFor } from '../postgres/partitioner';
import { KafkaTransport } from './kafka.transport';

const TOPIC = 'tessera.kafkatest.events';
const STALL_TOPIC = 'tessera.kafkastall.events';
const quiet = pino({ level: 'silent' });

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function event(subject: string, n: number, extra: Partial<{ traceparent: string }> = {}): EventEnvelope {
  return createEnvelope({
    source: 'kafkatest',
    type: 'kafkatest.thing.happened',
    subject,
    tenantId: '00000000-0000-4000-8000-000000000001',
    data: { n, subject },
    ...extra,
  });
}

jest.setTimeout(60_000);

describe('KafkaTransport on the librdkafka mock cluster', () => {
  let cluster: KafkaMockCluster;
  let transport: KafkaTransport;

  beforeAll(async () => {
    cluster = await startKafkaMock({
      brokers: 3,
      topics: [
        { name: TOPIC, partitions: 4 },
        { name: STALL_TOPIC, partitions: 6 },
      ],
    });
    transport = new KafkaTransport({
      brokers: cluster.brokers,
      clientId: 'kafka-spec',
      logger: quiet,
      pingTimeoutMs: 2000,
      // The mock's coordinator waits session timeout - 1 s for members to rejoin: keep rebalances short.
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    });
    await transport.connect();
  });

  afterAll(async () => {
    await transport?.close();
    await cluster?.stop();
  });

  it('publishes and consumes CloudEvents with every attribute intact', async () => {
    const sent = [
      event(randomUUID(), 1, {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      }),
      event(randomUUID(), 2),
    ];
    await transport.publish(TOPIC, sent);
    const got: EventEnvelope[] = [];
    const handle = await transport.subscribe({
      groupId: `g-${randomUUID()}`,
      topics: [TOPIC],
      handle: async (e) => {
        if (sent.some((s) => s.id === e.id)) got.push(e);
      },
    });
    await waitFor('both events', () => got.length === 2);
    await handle.stop();
    expect(got.sort((a, b) => (a.data as { n: number }).n - (b.data as { n: number }).n)).toEqual(sent);
  });

  it('writes binary content mode on the wire: ce_ headers, key = partitionkey, JSON value', async () => {
    const e = event(randomUUID(), 3, {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    await transport.publish(TOPIC, [e]);
    const raw = new Kafka({
      brokers: cluster.brokers,
      clientId: 'raw',
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: `raw-${randomUUID()}`, maxWaitTimeInMs: 100 });
    const seen: KafkaMessage[] = [];
    await raw.connect();
    await raw.subscribe({ topics: [TOPIC], fromBeginning: true });
    await raw.run({
      eachMessage: async ({ message }) => {
        if (message.headers?.['ce_id']?.toString() === e.id) seen.push(message);
      },
    });
    await waitFor('the raw message', () => seen.length === 1);
    await raw.disconnect();
    const [m] = seen;
    const header = (name: string) => m.headers?.[name]?.toString();
    expect(m.key?.toString()).toBe(e.partitionkey);
    expect(JSON.parse(m.value?.toString() ?? 'null')).toEqual(e.data);
    expect(header('ce_specversion')).toBe('1.0');
    expect(header('ce_type')).toBe(e.type);
    expect(header('ce_source')).toBe(e.source);
    expect(header('ce_subject')).toBe(e.subject);
    expect(header('ce_tenantid')).toBe(e.tenantid);
    expect(header('ce_partitionkey')).toBe(e.partitionkey);
    expect(header('traceparent')).toBe(e.traceparent);
    expect(header('content-type')).toBe('application/json');
  });

  it('retries a failing handler in place: nothing after it on the partition is handled first, nothing skipped', async () => {
    const key = randomUUID();
    const sent = [1, 2, 3, 4, 5].map((n) => event(key, n));
    const ids = new Set(sent.map((s) => s.id));
    const order: number[] = [];
    let failures = 0;
    const handle = await transport.subscribe({
      groupId: `g-${randomUUID()}`,
      topics: [TOPIC],
      handle: async (e) => {
        if (!ids.has(e.id)) return;
        const n = (e.data as { n: number }).n;
        if (n === 3 && failures < 3) {
          failures++;
          throw new Error('transient');
        }
        order.push(n);
      },
    });
    await transport.publish(TOPIC, sent);
    await waitFor('all five', () => order.length >= 5);
    await handle.stop();
    expect(failures).toBe(3);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('hands a partition batch to handleBatch; a failing batch is redone message by message, in order', async () => {
    const key = randomUUID();
    const sent = [1, 2, 3, 4, 5].map((n) => event(key, n));
    const ids = new Set(sent.map((s) => s.id));
    const nOf = (e: EventEnvelope): number => (e.data as { n: number }).n;
    // What "committed" holds: a batch's results count only if the whole batch resolved, like one transaction.
    const applied: number[] = [];
    const batches: number[][] = [];
    let failures = 0;
    const apply = (n: number): void => {
      if (n === 3 && failures < 2) {
        failures++;
        throw new Error('transient');
      }
    };
    // Published first, so the group's first fetch holds all five in one batch.
    await transport.publish(TOPIC, sent);
    const handle = await transport.subscribe({
      groupId: `g-${randomUUID()}`,
      topics: [TOPIC],
      handle: async (e) => {
        if (!ids.has(e.id)) return;
        apply(nOf(e));
        applied.push(nOf(e));
      },
      handleBatch: async (events) => {
        const ours = events.filter(({ event: e }) => ids.has(e.id)).map(({ event: e }) => nOf(e));
        if (ours.length > 0) batches.push(ours);
        for (const n of ours) apply(n);
        applied.push(...ours);
      },
    });
    await waitFor('all five', () => applied.length >= 5);
    await handle.stop();
    expect(batches[0]).toEqual([1, 2, 3, 4, 5]);
    expect(failures).toBe(2);
    expect(applied).toEqual([1, 2, 3, 4, 5]);
  });

  it('reports lag until the group has committed, then zero', async () => {
    const sent = Array.from({ length: 10 }, (_, i) => event(randomUUID(), i));
    const ids = new Set(sent.map((s) => s.id));
    const groupId = `g-${randomUUID()}`;
    let open = false;
    let handled = 0;
    // A first member blocks on our events, so the group's committed offsets stay behind the log end.
    const handle = await transport.subscribe({
      groupId,
      topics: [TOPIC],
      handle: async (e) => {
        if (!ids.has(e.id)) return;
        await waitFor('the gate', () => open);
        handled++;
      },
    });
    await transport.publish(TOPIC, sent);
    await waitFor('lag to show the blocked events', async () => (await handle.lag()) > 0);
    open = true;
    await waitFor('the events', () => handled === 10);
    await waitFor('lag to reach zero', async () => (await handle.lag()) === 0);
    await handle.stop();
    expect(handled).toBe(10);
  });

  it('ping fails while every broker is down and recovers when they are back', async () => {
    await expect(transport.ping()).resolves.toBeUndefined();
    await cluster.brokerDown('all');
    try {
      await expect(transport.ping()).rejects.toThrow();
    } finally {
      await cluster.brokerUp('all');
    }
    await waitFor('ping to succeed again', () =>
      transport.ping().then(
        () => true,
        () => false,
      ),
    );
  });

  it("keeps a handler that keeps failing from stalling other partitions of the same broker's fetch", async () => {
    const admin = new Kafka({ brokers: cluster.brokers, clientId: 'kafka-spec-stall', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [STALL_TOPIC] });
    await admin.disconnect();
    const leaders = new Map(metadata.topics[0].partitions.map((p) => [p.partitionId, p.leader]));
    // kafkajs fetches from a broker again only when every batch of its last fetch there has ended. Six partitions on
    // three brokers: at least two share a leader, whichever way the mock placed them.
    const [poisonedPartition, neighbour] = [...leaders.keys()]
      .flatMap((p) => [...leaders.keys()].filter((q) => q > p && leaders.get(q) === leaders.get(p)).map((q) => [p, q]))[0] ?? [];
    expect(neighbour).toBeDefined();
    const keyOn = (partition: number): string => {
      for (;;) {
        const key = randomUUID();
        if (partitionFor(key, 6) === partition) return key;
      }
    };
    const poisoned = keyOn(poisonedPartition as number);
    const healthy = keyOn(neighbour as number);
    let poisonAttempts = 0;
    const handled: number[] = [];
    const stalling = new KafkaTransport({
      brokers: cluster.brokers,
      clientId: 'kafka-spec-stalling',
      logger: quiet,
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, retryBackoffMs: { min: 100, max: 1_000 } },
    });
    await stalling.connect();
    const handle = await stalling.subscribe({
      groupId: `stall-${randomUUID()}`,
      topics: [STALL_TOPIC],
      handle: async (e) => {
        if (e.subject === poisoned) {
          poisonAttempts++;
          throw new Error('always fails');
        }
        handled.push((e.data as { n: number }).n);
      },
    });
    try {
      await stalling.publish(STALL_TOPIC, [event(poisoned, 0)]);
      await waitFor('the poisoned event to fail a few times', () => poisonAttempts >= 4);
      await stalling.publish(STALL_TOPIC, [event(healthy, 1), event(healthy, 2)]);
      await waitFor('the neighbouring partition to be handled', () => handled.length === 2, 15_000);
      expect(handled).toEqual([1, 2]);
      // The failing event is still retried (with its backoff), never skipped.
      const attemptsBefore = poisonAttempts;
      await waitFor('the failing event to be retried again', () => poisonAttempts > attemptsBefore, 10_000);
    } finally {
      await handle.stop();
      await stalling.close();
    }
  });
});
