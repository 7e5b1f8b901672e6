import { randomBytes, randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@tessera/contracts';
import { createTestDatabase } from '@tessera/testing';
import type { TestDatabase } from '@tessera/testing';
import { DataSource } from 'typeorm';
import { ensureMessagingSchema } from '../postgres/messaging-schema';
import { PostgresTransport } from '../postgres/postgres.transport';
import { createEnvelope } from './cloudevents';
import { Inbox, InboxBatchFailedError } from './inbox';
import type { InboxOutcome, InboxTx } from './inbox';
import { messagingTablesSql } from './messaging-tables.migration';
import type { ConsumerHandle, DeliveredEvent } from './transport.port';

const SCHEMA = 'batchsvc';
const TENANT_A = '7d0c1b2a-0000-4000-8000-00000000000a';
const TENANT_B = '7d0c1b2a-0000-4000-8000-00000000000b';

const event = (seq: number, tenantId = TENANT_A, subject = 'agg-1'): EventEnvelope<{ seq: number }> =>
  createEnvelope({ source: 'test', type: 'test.thing.happened', subject, tenantId, data: { seq } });

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Inbox.runBatch on real PostgreSQL, as the service's runtime role (not a superuser, no BYPASSRLS), with an effect
 * table under FORCEd Row Level Security keyed on `app.tenant_id`.
 */
describe('Inbox batches: one transaction per partition batch', () => {
  let db: TestDatabase;
  let admin: DataSource;
  let ds: DataSource;
  let runtimeUrl: string;
  const role = `batch_rt_${randomBytes(4).toString('hex')}`;

  /** The effect: one row per applied event, with the transaction it ran in and how many rows RLS let it see. */
  const recordEffect = async (tx: InboxTx<{ seq: number }>): Promise<number> => {
    const [{ visible }] = await tx.manager.query(`SELECT count(*)::int AS visible FROM ${SCHEMA}.effects`);
    await tx.manager.query(`INSERT INTO ${SCHEMA}.effects (tenant_id, event_id, seq, txid) VALUES ($1, $2, $3, txid_current())`, [
      tx.tenantId,
      tx.event.id,
      tx.event.data.seq,
    ]);
    return visible;
  };

  const effects = (): Promise<{ tenant_id: string; event_id: string; seq: number; txid: string }[]> =>
    admin.query(`SELECT tenant_id, event_id, seq, txid FROM ${SCHEMA}.effects ORDER BY n`);

  beforeAll(async () => {
    db = await createTestDatabase('inboxbatch');
    const password = randomBytes(12).toString('hex');
    admin = new DataSource({ type: 'postgres', url: db.url });
    await admin.initialize();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS`);
    await ensureMessagingSchema(db.url, { grantTo: [role] });
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    for (const sql of messagingTablesSql(SCHEMA)) await admin.query(sql);
    await admin.query(`CREATE TABLE ${SCHEMA}.effects (
      n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, event_id uuid NOT NULL, seq int NOT NULL, txid bigint NOT NULL)`);
    await admin.query(`ALTER TABLE ${SCHEMA}.effects ENABLE ROW LEVEL SECURITY`);
    await admin.query(`ALTER TABLE ${SCHEMA}.effects FORCE ROW LEVEL SECURITY`);
    await admin.query(`CREATE POLICY tenant ON ${SCHEMA}.effects
      USING (tenant_id = current_setting('app.tenant_id', true)::uuid)
      WITH CHECK (tenant_id = current_setting('app.tenant_id', true)::uuid)`);
    await admin.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${role}`);
    await admin.query(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${SCHEMA} TO ${role}`);
    await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${SCHEMA} TO ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    runtimeUrl = url.toString();
    ds = new DataSource({ type: 'postgres', url: runtimeUrl });
    await ds.initialize();
  });

  afterEach(async () => {
    await admin.query(`TRUNCATE ${SCHEMA}.effects, ${SCHEMA}.processed_events`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await admin?.destroy();
    await db?.drop();
    const postgres = new DataSource({ type: 'postgres', url: db.url.replace(/\/[^/]*$/, '/postgres') });
    await postgres.initialize();
    await postgres.query(`DROP ROLE IF EXISTS ${role}`);
    await postgres.destroy();
  });

  describe.each([
    ['each run claims its own event', false],
    ['the batch claims all its events in one statement', true],
  ])('%s', (_name, claimAll) => {
    const runBatch = <R>(inbox: Inbox, work: () => Promise<R>, events: EventEnvelope[]): Promise<R> =>
      claimAll ? inbox.runBatch(work, { events }) : inbox.runBatch(work);

    it('applies a batch in one transaction; a duplicate inside the batch and an already processed event change nothing', async () => {
      const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
      const [e1, e2, e3] = [event(1), event(2), event(3)];
      expect(await inbox.run(e3, async (tx) => void (await recordEffect(tx)))).toBe('applied');

      const outcomes = await runBatch(
        inbox,
        async () => {
          const out: InboxOutcome[] = [];
          for (const e of [e1, e2, e1, e3]) out.push(await inbox.run(e, async (tx) => void (await recordEffect(tx))));
          return out;
        },
        [e1, e2, e1, e3],
      );

      expect(outcomes).toEqual(['applied', 'applied', 'duplicate', 'duplicate']);
      const rows = await effects();
      expect(rows.map((r) => r.seq)).toEqual([3, 1, 2]);
      // e1 and e2 committed together, in a transaction other than e3's own.
      expect(rows[1].txid).toBe(rows[2].txid);
      expect(rows[0].txid).not.toBe(rows[1].txid);
      const [{ n }] = await admin.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.processed_events WHERE consumer_group = 'g'`);
      expect(n).toBe(3);
    });

    it('applies an event whose id is in upper case once, and knows it again in lower case', async () => {
      const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
      const upper = { ...event(7), id: randomUUID().toUpperCase() };
      // The claim map keyed the id as sent and the claimed rows as PostgreSQL returns them (lower case), so the
      // event counted as a duplicate: its effect was skipped and its claim committed, lost for good.
      // Twice in its batch (a redelivery within one read): applied once.
      const first = await runBatch(
        inbox,
        async () => [await inbox.run(upper, async (tx) => void (await recordEffect(tx))), await inbox.run(upper, async (tx) => void (await recordEffect(tx)))],
        [upper, upper],
      );
      expect(first).toEqual(['applied', 'duplicate']);
      const again = { ...upper, id: upper.id.toLowerCase() };
      expect(await runBatch(inbox, () => inbox.run(again, async (tx) => void (await recordEffect(tx))), [again])).toBe('duplicate');
      expect((await effects()).map((r) => r.seq)).toEqual([7]);
    });

    it('sets the tenant per event: two tenants in one batch each see and write only their own rows', async () => {
      const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
      const batch = [event(1, TENANT_A), event(2, TENANT_B), event(3, TENANT_A), event(4, TENANT_B), event(5, TENANT_B)];
      const visible: number[] = [];
      await runBatch(
        inbox,
        async () => {
          for (const e of batch) await inbox.run(e, async (tx) => void visible.push(await recordEffect(tx)));
        },
        batch,
      );
      // Rows of the same batch written by the other tenant's events are invisible under RLS.
      expect(visible).toEqual([0, 0, 1, 1, 2]);
      const rows = await effects();
      expect(rows.map((r) => [r.seq, r.tenant_id])).toEqual([
        [1, TENANT_A],
        [2, TENANT_B],
        [3, TENANT_A],
        [4, TENANT_B],
        [5, TENANT_B],
      ]);
      expect(new Set(rows.map((r) => r.txid)).size).toBe(1);
      // An effect writing another tenant's row is refused by the policy, even mid-batch.
      const sixth = event(6, TENANT_A);
      await expect(
        runBatch(
          inbox,
          () =>
            inbox.run(sixth, async (tx) => {
              await tx.manager.query(`INSERT INTO ${SCHEMA}.effects (tenant_id, event_id, seq, txid) VALUES ($1, $2, 6, 0)`, [TENANT_B, tx.event.id]);
            }),
          [sixth],
        ),
      ).rejects.toThrow(/row-level security/);
    });

    it('a failing effect fails the whole batch: nothing of it commits, even if a handler swallowed the error', async () => {
      const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
      const [e1, e2, e3] = [event(1), event(2), event(3)];
      await expect(
        runBatch(
          inbox,
          async () => {
            for (const e of [e1, e2, e3]) {
              await inbox.run(e, async (tx) => {
                await recordEffect(tx);
                if (e === e2) throw new Error('effect failed');
              });
            }
          },
          [e1, e2, e3],
        ),
      ).rejects.toThrow('effect failed');
      expect(await effects()).toEqual([]);

      const later: unknown[] = [];
      await expect(
        runBatch(
          inbox,
          async () => {
            for (const e of [e1, e2, e3]) {
              // A handler that catches and carries on: the batch still rolls back, and later events are refused.
              await inbox
                .run(e, async (tx) => {
                  await recordEffect(tx);
                  if (e === e2) throw new Error('swallowed');
                })
                .catch((err: unknown) => later.push(err));
            }
          },
          [e1, e2, e3],
        ),
      ).rejects.toThrow('swallowed');
      expect(later).toHaveLength(2);
      expect(later[1]).toBeInstanceOf(InboxBatchFailedError);
      expect(await effects()).toEqual([]);
      const [{ n }] = await admin.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.processed_events`);
      expect(n).toBe(0);
    });
  });

  it('batches handed over while two run wait and share the next transaction; a failing one then fails alone', async () => {
    const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const partition = (events: EventEnvelope<{ seq: number }>[], hold = false, failOn?: number) =>
      inbox.runBatch(
        async () => {
          for (const e of events) {
            await inbox.run(e, async (tx) => {
              await recordEffect(tx);
              if (e.data.seq === failOn) throw new Error(`event ${failOn} failed`);
            });
            if (hold) await gate;
          }
          return events.map((e) => e.data.seq);
        },
        { events },
      );
    // Two transactions in flight, held open...
    const first = partition([event(1, TENANT_A, 'p1')], true);
    const second = partition([event(2, TENANT_B, 'p2')], true);
    await waitFor('two batches open', async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`))[0].n >= 2);
    // ...so these three wait, then run in one transaction together.
    const waiting = [
      partition([event(3, TENANT_A, 'p3'), event(4, TENANT_A, 'p3')]),
      partition([event(5, TENANT_B, 'p4')]),
      partition([event(6, TENANT_A, 'p5')]),
    ];
    open();
    expect(await Promise.all([first, second, ...waiting])).toEqual([[1], [2], [3, 4], [5], [6]]);
    const rows = await effects();
    const tx = new Map(rows.map((r) => [r.seq, r.txid]));
    expect(new Set([tx.get(3), tx.get(4), tx.get(5), tx.get(6)]).size).toBe(1);
    expect(tx.get(1)).not.toBe(tx.get(3));
    // Each event written under its own tenant (the policy's WITH CHECK would refuse anything else).
    expect(Object.fromEntries(rows.map((r) => [r.seq, r.tenant_id]))).toEqual({
      1: TENANT_A, 2: TENANT_B, 3: TENANT_A, 4: TENANT_A, 5: TENANT_B, 6: TENANT_A,
    });

    // A shared transaction that fails is redone caller by caller: only the failing one's caller sees the error.
    await admin.query(`TRUNCATE ${SCHEMA}.effects, ${SCHEMA}.processed_events`);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const blockers = [0, 1].map((i) =>
      inbox.runBatch(async () => {
        await inbox.run(event(100 + i, TENANT_A, `b${i}`), async (tx) => void (await recordEffect(tx)));
        await held;
      }),
    );
    await waitFor('two batches open', async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`))[0].n >= 2);
    const outcomes = Promise.allSettled([
      partition([event(7, TENANT_A, 'q1')]),
      partition([event(8, TENANT_B, 'q2')], false, 8),
      partition([event(9, TENANT_A, 'q3')]),
    ]);
    release();
    await Promise.all(blockers);
    const [ok7, failed8, ok9] = await outcomes;
    expect(ok7).toEqual({ status: 'fulfilled', value: [7] });
    expect(failed8.status).toBe('rejected');
    expect((failed8 as PromiseRejectedResult).reason).toEqual(new Error('event 8 failed'));
    expect(ok9).toEqual({ status: 'fulfilled', value: [9] });
    // Each applied exactly once; nothing of the failing one.
    expect((await effects()).map((r) => r.seq).sort((a, b) => a - b)).toEqual([7, 9, 100, 101]);
  });

  it("tells each effect the events of its transaction: the batch's (claimed or not), or just its own outside a batch", async () => {
    const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
    const [e1, e2, e3, alone] = [event(1), event(2, TENANT_B), event(3), event(4)];
    const seen: string[][] = [];
    const note = async (tx: InboxTx): Promise<void> => void seen.push(tx.batch.map((e) => e.id));
    await inbox.runBatch(
      async () => {
        for (const e of [e1, e2, e3]) await inbox.run(e, note);
      },
      { events: [e1, e2, e3] },
    );
    await inbox.runBatch(async () => {
      for (const e of [e1, e2, e3]) await inbox.run({ ...e, id: randomUUID() }, note);
    });
    await inbox.run(alone, note);
    const batchIds = [e1.id, e2.id, e3.id];
    expect(seen.slice(0, 3)).toEqual([batchIds, batchIds, batchIds]);
    // Without the list, each event's own transaction view is all the inbox knows.
    expect(seen.slice(3, 6).map((ids) => ids.length)).toEqual([1, 1, 1]);
    expect(seen[6]).toEqual([alone.id]);
  });

  it('with claimed events: a handler that skips the inbox still marks its event processed, and an event outside the list takes the one-event path', async () => {
    const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g' });
    const [ignored, applied, outsider] = [event(1, TENANT_A), event(2, TENANT_B), event(3, TENANT_A)];
    const visible: number[] = [];
    await inbox.runBatch(
      async () => {
        // `ignored` has no handler using the inbox; `outsider` was not in the claimed list.
        await inbox.run(applied, async (tx) => void visible.push(await recordEffect(tx)));
        await inbox.run(outsider, async (tx) => void visible.push(await recordEffect(tx)));
      },
      { events: [ignored, applied] },
    );
    expect(visible).toEqual([0, 0]);
    const rows = await effects();
    expect(rows.map((r) => [r.seq, r.tenant_id])).toEqual([
      [2, TENANT_B],
      [3, TENANT_A],
    ]);
    const processed: { event_id: string }[] = await admin.query(`SELECT event_id FROM ${SCHEMA}.processed_events ORDER BY event_id`);
    expect(processed.map((r) => r.event_id).sort()).toEqual([ignored.id, applied.id, outsider.id].sort());
    // Redelivered as a batch: everything is a duplicate and nothing runs.
    const again = await inbox.runBatch(
      async () => {
        const out: InboxOutcome[] = [];
        for (const e of [ignored, applied, outsider]) out.push(await inbox.run(e, async () => void visible.push(-1)));
        return out;
      },
      { events: [ignored, applied, outsider] },
    );
    expect(again).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(visible).toEqual([0, 0]);
  });

  it('on the postgres transport, a failure mid-batch: the prefix applies once, the failing event is retried, nothing after it goes first', async () => {
    const transport = new PostgresTransport({
      url: runtimeUrl,
      partitions: 2,
      rebalanceIntervalMs: 200,
      pollIntervalMs: 100,
      backoff: { initialMs: 50, maxMs: 200 },
      onError: () => undefined,
    });
    await transport.connect();
    let consumer: ConsumerHandle | undefined;
    try {
      const topic = `tessera.batch${randomUUID().slice(0, 8)}.events`;
      const events = Array.from({ length: 8 }, (_, i) => event(i + 1, i % 2 ? TENANT_B : TENANT_A, 'one-key'));
      const failing = events[3];
      let failuresLeft = 2;
      const batchSizes: number[] = [];
      const attempts = new Map<string, number>();
      const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'transport-g' });
      const handle = async (e: EventEnvelope): Promise<void> => {
        attempts.set(e.id, (attempts.get(e.id) ?? 0) + 1);
        await inbox.run(e as EventEnvelope<{ seq: number }>, async (tx) => {
          await recordEffect(tx);
          if (e.id === failing.id && failuresLeft-- > 0) throw new Error('transient');
        });
      };
      // Published before subscribing, so the first read takes all eight as one batch.
      await transport.publish(topic, events);
      consumer = await transport.subscribe({
        groupId: 'transport-g',
        topics: [topic],
        handle,
        handleBatch: (batch: DeliveredEvent[]) => {
          batchSizes.push(batch.length);
          return inbox.runBatch(async () => {
            for (const { event: e } of batch) await handle(e);
          });
        },
      });
      await waitFor('all eight applied', async () => (await effects()).length >= 8);
      await waitFor('offsets committed', async () => (await consumer?.lag()) === 0);

      expect(batchSizes[0]).toBe(8);
      const rows = await effects();
      // Each event exactly once, in partition order (identity values are taken in the order effects ran).
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(rows.map((r) => r.tenant_id)).toEqual(events.map((e) => e.tenantid));
      // The batch attempt failed at event 4 and rolled back; the one-by-one pass redid 1–3, failed on 4 once more,
      // retried it until it succeeded, and only then ran 5: nothing after the failing event ran before it.
      expect(attempts.get(failing.id)).toBe(3);
      expect(attempts.get(events[0].id)).toBe(2);
      expect(attempts.get(events[4].id)).toBe(1);
    } finally {
      await consumer?.stop();
      await transport.close();
    }
  });
});
