import { randomUUID } from 'node:crypto';
import { IdentityEventTypes, TOPICS, type EventEnvelope, type TenantCreatedV1, type VendorCreatedV1 } from '@tessera/contracts';
import { createEnvelope, DeadLetters, PostgresTransport, runDeadLettersCommand } from '@tessera/messaging';
import { revertLastMigration } from '@tessera/persistence';
import { DataSource } from 'typeorm';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from '../src/entities';
import { CATALOG_MIGRATIONS } from '../src/migrations';
import { CatalogHarness, expectProblem, INTERNAL_SECRET } from './support/catalog-harness';

/**
 * The operator routes `/internal/dead-letters` of a running service (the catalog, consuming identity's events on the
 * postgres transport). How events come to be parked is proved in libs/messaging (dead-letters.spec.ts, both
 * transports); here letters are put in place as the consumer parks them, and run through the catalog's own handlers.
 */
describe('dead letters (operator routes /internal/dead-letters)', () => {
  let h: CatalogHarness;
  let producer: PostgresTransport;
  const maxAttempts = process.env['EVENT_MAX_ATTEMPTS'];
  beforeAll(async () => {
    // Read when the service starts: a failing event is parked after 2 attempts instead of 10 (about 25 s of backoff).
    process.env['EVENT_MAX_ATTEMPTS'] = '2';
    h = await CatalogHarness.start({ consumeEvents: true, transport: (url) => new PostgresTransport({ url, pollIntervalMs: 100 }) });
    producer = new PostgresTransport({ url: h.db.url });
    await producer.connect();
  });
  afterAll(async () => {
    if (maxAttempts === undefined) delete process.env['EVENT_MAX_ATTEMPTS'];
    else process.env['EVENT_MAX_ATTEMPTS'] = maxAttempts;
    await producer?.close();
    await h?.close();
  });

  const internal = async () => h.headers({ principalType: 'internal' });
  const tenantCreated = (tenantId: string): EventEnvelope<TenantCreatedV1> =>
    createEnvelope({
      source: 'identity',
      type: IdentityEventTypes.TenantCreated,
      subject: tenantId,
      tenantId,
      data: { tenantId, slug: `t-${tenantId.slice(0, 8)}`, name: 'Parked tenant', type: 'mall', defaultCurrency: 'EUR', plan: 'free', status: 'trial' },
    });
  // Under the tenant's key, so that it queues behind the tenant's letter.
  const vendorCreated = (tenantId: string): EventEnvelope<VendorCreatedV1> =>
    createEnvelope({
      source: 'identity',
      type: IdentityEventTypes.VendorCreated,
      subject: randomUUID(),
      partitionKey: tenantId,
      tenantId,
      data: { tenantId, vendorId: randomUUID(), name: 'Parked vendor', commissionRate: 1000 },
    });

  /** Puts a letter in place as the consumer parks one; returns its id. */
  async function park(e: EventEnvelope, reason: 'failed' | 'held'): Promise<string> {
    const { rows } = await h.admin.query<{ id: string }>(
      `INSERT INTO catalog.dead_letters (consumer_group, event_id, tenant_id, partition_key, type, topic, partition, "offset", envelope, reason, error, attempts)
       VALUES ('catalog', $1, $2, $3, $4, 'tessera.identity.events', 0, '7', $5, $6, $7, $8) RETURNING id`,
      [e.id, e.tenantid, e.partitionkey ?? e.subject, e.type, JSON.stringify(e), reason, reason === 'failed' ? 'Error: it broke' : null, reason === 'failed' ? 10 : 0],
    );
    return rows[0].id;
  }
  const known = async (tenantId: string) =>
    (
      await h.admin.query<{ tenant: boolean; vendors: number }>(
        `SELECT EXISTS (SELECT 1 FROM catalog.known_tenants WHERE tenant_id = $1) AS tenant,
                (SELECT count(*)::int FROM catalog.known_vendors WHERE tenant_id = $1) AS vendors`,
        [tenantId],
      )
    ).rows[0];
  const letterStates = async () =>
    (await h.admin.query<{ id: string; resolution: string | null }>(`SELECT id, resolution FROM catalog.dead_letters ORDER BY seq`)).rows;

  it("lists and shows a key's letters, and a replay runs them in order through the service's handlers", async () => {
    const tenantId = randomUUID();
    const tenant = tenantCreated(tenantId);
    const vendor = vendorCreated(tenantId);
    const first = await park(tenant, 'failed');
    const second = await park(vendor, 'held');

    const open = await h.http.get('/internal/dead-letters?status=open').set(await internal());
    expect(open.status).toBe(200);
    expect(open.body.items.map((l: { id: string }) => l.id)).toEqual([first, second]);
    expect(open.body.nextCursor).toBeNull();
    const shown = await h.http.get(`/internal/dead-letters/${first}`).set(await internal());
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id: first,
      consumerGroup: 'catalog',
      eventId: tenant.id,
      partitionKey: tenantId,
      reason: 'failed',
      error: 'Error: it broke',
      attempts: 10,
      resolution: null,
      envelope: { id: tenant.id, type: IdentityEventTypes.TenantCreated },
    });

    // Replaying by the held letter's id runs its whole key from the first open letter.
    const replay = await h.http.post(`/internal/dead-letters/${second}/replay`).set(await internal()).send({});
    expect(replay.status).toBe(200);
    expect(replay.body.replayed.map((l: { id: string }) => l.id)).toEqual([first, second]);
    expect(replay.body).toMatchObject({ failed: null, open: 0 });
    expect(await known(tenantId)).toEqual({ tenant: true, vendors: 1 });

    expect((await h.http.get('/internal/dead-letters?status=open').set(await internal())).body.items).toEqual([]);
    const resolved = await h.http.get('/internal/dead-letters?status=resolved&limit=1').set(await internal());
    expect(resolved.body.items).toHaveLength(1);
    expect(resolved.body.items[0]).toMatchObject({ id: first, resolution: 'replayed' });
    const rest = await h.http.get(`/internal/dead-letters?status=resolved&cursor=${resolved.body.nextCursor}`).set(await internal());
    expect(rest.body.items.map((l: { id: string }) => l.id)).toEqual([second]);

    const again = await h.http.post(`/internal/dead-letters/${first}/replay`).set(await internal()).send({});
    expectProblem(again, 409);
    expect(again.body).toMatchObject({ reason: 'dead_letter_resolved', resolution: 'replayed' });
  });

  it('discards only the first open letter of a key; replaying every key then runs what is left', async () => {
    const tenantId = randomUUID();
    const first = await park(tenantCreated(tenantId), 'failed');
    const second = await park(vendorCreated(tenantId), 'held');

    const notFirst = await h.http.post(`/internal/dead-letters/${second}/discard`).set(await internal()).send({});
    expectProblem(notFirst, 409);
    expect(notFirst.body).toMatchObject({ reason: 'dead_letter_not_first', firstId: first });

    const discarded = await h.http.post(`/internal/dead-letters/${first}/discard`).set(await internal()).send({});
    expect(discarded.status).toBe(200);
    expect(discarded.body).toMatchObject({ letter: { id: first, resolution: 'discarded' }, open: 1 });

    const all = await h.http.post('/internal/dead-letters/replay').set(await internal()).send({});
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ keys: 1, replayed: 1, failed: [], busy: 0, open: 0 });
    // The discarded tenant event never ran; the vendor behind it did.
    expect(await known(tenantId)).toEqual({ tenant: false, vendors: 1 });
  });

  it("parks a vendor event the catalog's handler cannot store, holds the next one of its key, and the tool's replay exits 1 while it still fails", async () => {
    const tenantId = randomUUID();
    const owner = { tenantId, userId: randomUUID(), role: 'owner' as const };
    await h.knowTenant(owner, 'mall');
    // A name PostgreSQL cannot store as text (a NUL character): the handler fails the same way every time.
    const bad = createEnvelope({
      source: 'identity',
      type: IdentityEventTypes.VendorCreated,
      subject: randomUUID(),
      partitionKey: tenantId,
      tenantId,
      data: { tenantId, vendorId: randomUUID(), name: 'Bad\u0000vendor', commissionRate: 500 } satisfies VendorCreatedV1,
    });
    const next = vendorCreated(tenantId);
    await producer.publish(TOPICS.identity, [bad, next]);
    const open = async () =>
      (await h.http.get('/internal/dead-letters?status=open').set(await internal())).body.items.filter((l: { partitionKey: string }) => l.partitionKey === tenantId);
    const deadline = Date.now() + 30_000;
    while ((await open()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [first, second] = await open();
    expect(first).toMatchObject({ eventId: bad.id, reason: 'failed', attempts: 2 });
    expect(first.error).toMatch(/invalid byte sequence|0x00/);
    expect(second).toMatchObject({ eventId: next.id, reason: 'held' });
    // Held, not applied ahead of the letter.
    expect(await known(tenantId)).toEqual({ tenant: true, vendors: 0 });

    const baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
    let code: number;
    try {
      code = await runDeadLettersCommand('catalog', ['replay', second.id], () => ({ baseUrl, internalTokenSecret: INTERNAL_SECRET }));
    } finally {
      write.mockRestore();
    }
    // 200, but not done: the first letter failed again, so the one behind it did not run.
    expect(code).toBe(1);
    const answer = JSON.parse(out.join('').replace(/^200 /, ''));
    expect(answer).toMatchObject({ replayed: [], failed: { id: first.id, attempts: 3 }, open: 2 });
    expect(await known(tenantId)).toEqual({ tenant: true, vendors: 0 });

    // Given up on, the bad one goes; the next one then runs.
    expect((await h.http.post(`/internal/dead-letters/${first.id}/discard`).set(await internal()).send({})).status).toBe(200);
    const replay = await h.http.post(`/internal/dead-letters/${second.id}/replay`).set(await internal()).send({});
    expect(replay.body).toMatchObject({ replayed: [{ id: second.id }], failed: null, open: 0 });
    expect(await known(tenantId)).toEqual({ tenant: true, vendors: 1 });
  });

  it("parks and holds through the service's own role, under the table's forced RLS", async () => {
    const letters = h.app.get(DeadLetters);
    const tenantId = randomUUID();
    const meta = { topic: TOPICS.identity, partition: 0, offset: '1' };
    const tenant = tenantCreated(tenantId);
    const vendor = vendorCreated(tenantId);
    await letters.park(tenant, meta, new Error('it broke'), 10);
    expect(await letters.holdIfOpen(vendor, meta)).toBe(true);
    expect(await letters.holdIfOpen(vendorCreated(randomUUID()), meta)).toBe(false);
    const rows = (await h.admin.query(`SELECT event_id, reason, tenant_id FROM catalog.dead_letters WHERE partition_key = $1 ORDER BY seq`, [tenantId])).rows;
    expect(rows).toEqual([
      { event_id: tenant.id, reason: 'failed', tenant_id: tenantId },
      { event_id: vendor.id, reason: 'held', tenant_id: tenantId },
    ]);
    // Without the module's setting, the service's role sees no letter of any tenant.
    const runner = h.app.get(DataSource).createQueryRunner();
    try {
      expect(await runner.query('SELECT count(*)::int AS n FROM catalog.dead_letters')).toEqual([{ n: 0 }]);
    } finally {
      await runner.release();
    }
    const all = await h.http.post('/internal/dead-letters/replay').set(await internal()).send({});
    expect(all.body).toMatchObject({ keys: 1, replayed: 2, failed: [], busy: 0, open: 0 });
  });

  it('refuses bad input and callers other than the internal credential, changing nothing', async () => {
    const id = await park(tenantCreated(randomUUID()), 'failed');
    const before = await letterStates();
    const owner = h.tenant('owner');
    for (const [req, status] of [
      [h.http.get('/internal/dead-letters/not-a-uuid').set(await internal()), 400],
      [h.http.get('/internal/dead-letters?status=stuck').set(await internal()), 400],
      [h.http.get('/internal/dead-letters?limit=0').set(await internal()), 400],
      [h.http.get('/internal/dead-letters?limit=101').set(await internal()), 400],
      [h.http.get('/internal/dead-letters?cursor=abc').set(await internal()), 400],
      [h.http.get('/internal/dead-letters?group=orders').set(await internal()), 400],
      [h.http.get(`/internal/dead-letters/${randomUUID()}`).set(await internal()), 404],
      [h.http.post(`/internal/dead-letters/${randomUUID()}/replay`).set(await internal()).send({}), 404],
      [h.http.post(`/internal/dead-letters/${randomUUID()}/discard`).set(await internal()).send({}), 404],
      [h.http.post(`/internal/dead-letters/${id}/discard`).set(await internal()).send({ force: true }), 400],
      [h.http.post(`/internal/dead-letters/${id}/replay`).set(await internal()).send({ all: true }), 400],
      [h.http.post('/internal/dead-letters/replay').set(await internal()).send({ keys: ['x'] }), 400],
      [h.http.post(`/internal/dead-letters/${id}/discard`).set(await h.headers(owner)).send({}), 403],
      [h.http.get('/internal/dead-letters').set(await h.headers(owner)), 403],
      [h.http.post(`/internal/dead-letters/${id}/replay`).send({}), 401],
    ] as const) {
      expectProblem(await req, status);
    }
    expect(await letterStates()).toEqual(before);
    // Left for the tool's test: the letter is still open.
    expect(before.find((l) => l.id === id)?.resolution).toBeNull();
  });

  it('the <service>:dead-letters tool lists, shows and replays over HTTP with the internal key of the service', async () => {
    const baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // What deadLettersToolMain runs, with the key this test's service takes (the tool derives it from the platform's).
      const tool = (argv: string[]) => runDeadLettersCommand('catalog', argv, () => ({ baseUrl, internalTokenSecret: INTERNAL_SECRET }));
      expect(await tool(['list', 'all'])).toBe(0);
      const listed = JSON.parse(out.join('').replace(/^200 /, '')) as { items: { id: string; resolution: string | null }[] };
      expect(listed.items.map((l) => l.id)).toEqual((await letterStates()).map((l) => l.id));
      const open = (await letterStates()).filter((l) => l.resolution === null).map((l) => l.id);
      expect(open).toHaveLength(1);

      out.length = 0;
      expect(await tool(['show', open[0]])).toBe(0);
      expect(out.join('')).toContain(`"id": "${open[0]}"`);
      out.length = 0;
      expect(await tool(['replay-all'])).toBe(0);
      expect(JSON.parse(out.join('').replace(/^200 /, ''))).toEqual({ keys: 1, replayed: 1, failed: [], busy: 0, open: 0 });
      out.length = 0;
      expect(await tool(['show', randomUUID()])).toBe(1);
      expect(out.join('')).toMatch(/^404 /);
      for (const bad of [['show'], ['show', 'nope'], ['list', 'stuck'], ['replay-all', 'x'], ['purge']]) expect(await tool(bad)).toBe(2);
      // Bad usage is told before the service's URL and key are looked for (an operator without them learns the usage).
      const nowhere = () => {
        throw new Error('INTERNAL_TOKEN_SECRET is not set');
      };
      expect(await runDeadLettersCommand('catalog', ['purge'], nowhere)).toBe(2);
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
  });

  it('a replay from an instance that runs no event handlers is refused, not resolved unrun', async () => {
    const idle = await CatalogHarness.start();
    try {
      const { rows } = await idle.admin.query<{ id: string }>(
        `INSERT INTO catalog.dead_letters (consumer_group, event_id, tenant_id, partition_key, type, topic, partition, "offset", envelope, reason, attempts)
         VALUES ('catalog', $1, $2, $3, $4, 'tessera.identity.events', 0, '1', $5, 'failed', 10) RETURNING id`,
        [randomUUID(), randomUUID(), randomUUID(), IdentityEventTypes.TenantCreated, JSON.stringify(tenantCreated(randomUUID()))],
      );
      const res = await idle.http.post(`/internal/dead-letters/${rows[0].id}/replay`).set(await idle.headers({ principalType: 'internal' })).send({});
      expectProblem(res, 409);
      expect(res.body.reason).toBe('not_consuming');
      expect((await idle.admin.query(`SELECT resolution FROM catalog.dead_letters WHERE id = $1`, [rows[0].id])).rows).toEqual([{ resolution: null }]);
    } finally {
      await idle.close();
    }
  });

  // Last: it reverts the schema under the running service.
  it('the migration refuses to revert while letters are open, so parked events cannot be dropped', async () => {
    await park(tenantCreated(randomUUID()), 'failed');
    const opts = { adminUrl: h.db.url, schema: CATALOG_SCHEMA, migrations: CATALOG_MIGRATIONS, entities: CATALOG_ENTITIES };
    await expect(revertLastMigration(opts)).rejects.toThrow(/catalog\.dead_letters holds 1 open dead letter\(s\): replay or discard them/);
    expect((await h.admin.query(`SELECT to_regclass('catalog.dead_letters') IS NOT NULL AS present`)).rows).toEqual([{ present: true }]);
    await h.admin.query(`UPDATE catalog.dead_letters SET resolved_at = now(), resolution = 'discarded' WHERE resolved_at IS NULL`);
    expect(await revertLastMigration(opts)).toBe('DeadLetters1797500000000');
  });
});
