/**
 * One checkout benchmark scenario: start the platform with its env, set up a tenant, a location, products and stock
 * through the gateway, then place orders at a fixed concurrency and measure how fast they reach `awaiting_payment`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { costliestStatements, databaseWork, resetStatements, type DatabaseWork } from './pg-admin';
import { machineContextSwitches } from './proc-cpu';
import { expectStatus, httpClient, pool, type Call } from './http-client';
import { startPlatform, type BenchPlatform } from './platform';

export interface ScenarioSpec {
  name: string;
  /** Env of this platform start (on top of the raised gateway rate limits). */
  env: Record<string, string>;
  skus: number;
  stockPerSku: number;
  /** Flag the SKUs hot through the staff API before the load (rather than waiting for detection). */
  flagHot?: boolean;
}

export interface LoadOptions {
  orders: number;
  concurrency: number;
  /** Collect pg_stat_statements over the load window (the platform's PostgreSQL then preloads it). */
  pgStats?: boolean;
  log: (line: string) => void;
}

export interface ScenarioResult {
  name: string;
  orders: number;
  placementErrors: number;
  awaiting: number;
  rejected: number;
  undecided: number;
  /** Client-side: orders accepted (202) per second while placing. */
  placedPerSecond: number;
  /** awaiting_payment orders per second, from the first order's `pending` to the last order's decision (server times). */
  awaitingPerSecond: number;
  windowSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU seconds per process group over the load window, and the bench client's own. */
  cpuSeconds: Record<string, number>;
  loadWindowSeconds: number;
  loadAverage: number[];
  hotSkus: string[];
  setupSeconds: number;
  /** CPU seconds per second per process group while idle (before the load). */
  idleCpuSeconds: Record<string, number>;
  /** With pgStats: the statements that took most planning + execution time in the load window. */
  pgStatements?: PgStatement[];
  /** PostgreSQL's transactions committed and WAL bytes written over the load window (all databases). */
  database: DatabaseWork;
  /** Context switches on the whole machine over the load window. */
  contextSwitches: number;
}

export interface PgStatement {
  role: string;
  calls: number;
  /** How many of the calls were planned (a prepared statement on its generic plan is not). */
  plans: number;
  /** Milliseconds per order (the load window's total divided by the orders placed). */
  planMsPerOrder: number;
  execMsPerOrder: number;
  query: string;
}

/** The statements of the load window that cost PostgreSQL most, times per order. */
async function pgStatements(adminUrl: string, orders: number): Promise<PgStatement[]> {
  return (await costliestStatements(adminUrl, 25)).map((r) => ({
    role: r.role,
    calls: r.calls,
    plans: r.plans,
    planMsPerOrder: r.planMs / orders,
    execMsPerOrder: r.execMs / orders,
    query: r.query,
  }));
}

const RATE_LIMITS = {
  RATE_LIMIT_ADDRESS_POINTS: '10000000',
  RATE_LIMIT_TENANT_POINTS: '10000000',
  RATE_LIMIT_AUTH_POINTS: '1000',
};
const VARIANTS_PER_PRODUCT = 100; // the catalog's maximum per product, and the orders' maximum lines per order

const IDLE_SAMPLE_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function skuName(i: number): string {
  return `BENCH-${String(i).padStart(5, '0')}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function setUp(call: Call, setToken: (t: string) => void, spec: ScenarioSpec, log: (l: string) => void): Promise<void> {
  const slug = `bench-${randomUUID().slice(0, 8)}`;
  const owner = {
    email: `owner@${slug}.test`,
    password: 'checkout bench password',
    name: 'Bench',
  };
  expectStatus(
    'signup',
    await call('POST', '/v1/tenants', {
      name: 'Bench',
      slug,
      defaultCurrency: 'EUR',
      owner,
    }),
    201,
  );
  const login = await call<{ accessToken: string }>('POST', '/v1/auth/login', {
    email: owner.email,
    password: owner.password,
  });
  expectStatus('login', login, 200, 201);
  setToken(login.body.accessToken);

  const location = await call<{ id: string }>('POST', '/v1/inventory/locations', {
    code: 'WH-1',
    name: 'Main',
    priority: 1,
  });
  expectStatus('location', location, 201);
  const locationId: string = location.body.id;

  const products = Math.ceil(spec.skus / VARIANTS_PER_PRODUCT);
  const productSkus = (p: number) =>
    Array.from(
      {
        length: Math.min(VARIANTS_PER_PRODUCT, spec.skus - p * VARIANTS_PER_PRODUCT),
      },
      (_, v) => skuName(p * VARIANTS_PER_PRODUCT + v),
    );
  await pool(products, 4, async (p) => {
    const variants = productSkus(p).map((sku) => ({
      sku,
      priceAmount: 1000,
      currency: 'EUR',
    }));
    expectStatus(
      'product',
      await call('POST', '/v1/products', {
        title: `Bench product ${p}`,
        status: 'active',
        variants,
      }),
      201,
    );
  });
  log(`  ${products} products, ${spec.skus} variants created`);

  if (spec.flagHot) {
    for (let i = 0; i < spec.skus; i++) expectStatus('flag hot', await call('POST', '/v1/inventory/hot-skus', { sku: skuName(i) }), 204);
  }
  const receiving = Date.now();
  await pool(spec.skus, 32, async (i) => {
    const body = {
      type: 'receive',
      sku: skuName(i),
      locationId,
      quantity: spec.stockPerSku,
    };
    // Inventory learns SKUs from catalog events too: a receive right after the product was created answers 422
    // unknown_sku until the variant event has arrived. That refusal changes nothing, so the same request is retried.
    const received = await until(`inventory's catalog read model to know ${body.sku}`, 120_000, async () => {
      const res = await call<{ reason?: string }>('POST', '/v1/inventory/movements', body);
      return res.status === 422 && res.body?.reason === 'unknown_sku' ? undefined : res;
    });
    expectStatus('receive', received, 201);
  });
  const receiveSeconds = (Date.now() - receiving) / 1000;
  log(`  stock received for ${spec.skus} SKUs (${spec.stockPerSku} each) in ${receiveSeconds.toFixed(1)} s (waits for inventory's catalog read model included)`);

  // Orders learns variants from catalog events: one probe order per product (all its variants, one unit each),
  // retried until accepted instead of refused as unknown; then wait until the probes are decided so that their
  // saga traffic is over before the measured load starts.
  const probes: string[] = [];
  await pool(products, 4, async (p) => {
    const items = productSkus(p).map((sku) => ({ sku, quantity: 1 }));
    const body = {
      items,
      customer: { name: 'Probe', email: 'probe@bench.test' },
      paymentMethod: 'cod',
    };
    const placed = await until(`the orders read model to know product ${p}`, 120_000, async () => {
      const res = await call<{ id: string }>('POST', '/v1/orders', body);
      return res.status === 202 ? res.body : undefined;
    });
    probes.push(placed.id);
  });
  await until('the probe orders to be decided', 120_000, async () => {
    const res = await call<{ items: unknown[] }>('GET', '/v1/orders?status=pending&limit=1');
    return res.body.items.length === 0 ? true : undefined;
  });
  log(`  orders read model knows every SKU (${probes.length} probe orders decided)`);
}

const QUIET_CPU = 0.35; // of one core, for the whole platform: about its idle polling cost
const QUIESCE_MAX_MS = 120_000;

/**
 * Waits until the platform's own CPU use falls to about its idle level: setting up 10,000 SKUs leaves a backlog of
 * catalog and stock events that consumers are still applying, which would otherwise compete with the measured load.
 */
async function quiesce(platform: BenchPlatform, log: (l: string) => void): Promise<void> {
  const started = Date.now();
  const total = (cpu: Record<string, number>) => Object.values(cpu).reduce((a, b) => a + b, 0);
  for (;;) {
    const before = total(platform.cpuSeconds());
    await sleep(2000);
    const rate = (total(platform.cpuSeconds()) - before) / 2;
    if (rate < QUIET_CPU || Date.now() - started > QUIESCE_MAX_MS) {
      log(`  platform quiet after ${((Date.now() - started) / 1000).toFixed(0)} s (CPU ${(rate * 100).toFixed(0)}% of a core)`);
      return;
    }
  }
}

interface Decided {
  status: string;
  pendingAt: number;
  decidedAt: number;
}

async function decisionOf(call: Call, id: string): Promise<Decided> {
  const res = await call<{
    status: string;
    history: { to: string | null; at: string }[];
  }>('GET', `/v1/orders/${id}`);
  expectStatus('get order', res, 200);
  const at = (to: string) => res.body.history.find((h) => h.to === to)?.at;
  const pending = at('pending');
  const decided = at(res.body.status);
  return {
    status: res.body.status,
    pendingAt: pending ? Date.parse(pending) : NaN,
    decidedAt: decided ? Date.parse(decided) : NaN,
  };
}

export async function runScenario(spec: ScenarioSpec, opts: LoadOptions): Promise<ScenarioResult> {
  const { log } = opts;
  const t0 = Date.now();
  log(
    `[${spec.name}] starting the platform (${
      Object.entries(spec.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'defaults'
    })`,
  );
  const platform = await startPlatform({ ...RATE_LIMITS, ...spec.env, ...(opts.pgStats ? { EMBEDDED_PG_STAT_STATEMENTS: 'on' } : {}) });
  log(`  ready in ${(platform.startupMs / 1000).toFixed(1)} s`);
  const { call, close, setToken } = httpClient(platform.baseUrl, Math.max(opts.concurrency, 32));
  try {
    await setUp(call, setToken, spec, log);
    await quiesce(platform, log);
    const setupSeconds = (Date.now() - t0) / 1000;
    // The idle cost (consumers and relays polling) over a few quiet seconds, to tell it apart from the load's.
    const idle0 = platform.cpuSeconds();
    await sleep(IDLE_SAMPLE_MS);
    const idle1 = platform.cpuSeconds();
    const idleCpuSeconds: Record<string, number> = {};
    for (const [k, v] of Object.entries(idle1)) idleCpuSeconds[k] = ((v - (idle0[k] ?? 0)) * 1000) / IDLE_SAMPLE_MS;

    if (opts.pgStats) await resetStatements(platform.adminUrl);
    const work0 = await databaseWork(platform.adminUrl);
    const switches0 = machineContextSwitches();
    const loadAverage = os.loadavg();
    const cpu0 = platform.cpuSeconds();
    const client0 = process.cpuUsage();
    const ids: string[] = new Array(opts.orders);
    let placementErrors = 0;
    const start = Date.now();
    const startUs = process.hrtime.bigint() / 1000n;
    await pool(opts.orders, opts.concurrency, async (i) => {
      // Spread demand: each order one unit of a SKU drawn at random (with one SKU, every order hits it).
      const sku = skuName(Math.floor(Math.random() * spec.skus));
      const body = {
        items: [{ sku, quantity: 1 }],
        customer: { name: 'Cleo', email: 'cleo@bench.test' },
        paymentMethod: 'bank_transfer',
      };
      // A failed placement is counted, not fatal: under overload the measurement should still come out.
      const res = await call<{ id: string }>('POST', '/v1/orders', body).catch((e: Error) => ({ status: 0, body: { id: '', error: e.message } }));
      if (res.status === 202) ids[i] = res.body.id;
      else if (++placementErrors <= 3) log(`  placement failed: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    });
    const placedSeconds = (Date.now() - start) / 1000;
    const accepted = ids.filter(Boolean);
    log(`  placed ${accepted.length}/${opts.orders} in ${placedSeconds.toFixed(1)} s; waiting for the saga`);
    await until('every order to be decided', 180_000, async () => {
      const res = await call<{ items: unknown[] }>('GET', '/v1/orders?status=pending&limit=1');
      return res.body.items.length === 0 ? true : undefined;
    });
    const loadWindowSeconds = (Date.now() - start) / 1000;
    // With --cpu-prof: the load window on the monotonic clock V8 profiles use, to cut startup and teardown out.
    const profDir = spec.env.BENCH_CPU_PROF_DIR;
    if (profDir) {
      mkdirSync(profDir, { recursive: true });
      writeFileSync(path.join(profDir, 'window.json'), JSON.stringify({ startUs: String(startUs), endUs: String(process.hrtime.bigint() / 1000n) }));
    }
    const cpu1 = platform.cpuSeconds();
    const switches1 = machineContextSwitches();
    const client1 = process.cpuUsage(client0);
    const cpuSeconds: Record<string, number> = {};
    for (const [k, v] of Object.entries(cpu1)) cpuSeconds[k] = v - (cpu0[k] ?? 0);
    cpuSeconds['bench client'] = (client1.user + client1.system) / 1e6;
    const statements = opts.pgStats ? await pgStatements(platform.adminUrl, opts.orders) : undefined;
    const work1 = await databaseWork(platform.adminUrl);

    const decided: Decided[] = new Array(accepted.length);
    await pool(accepted.length, 16, async (i) => {
      decided[i] = await decisionOf(call, accepted[i]);
    });
    const awaiting = decided.filter((d) => d.status === 'awaiting_payment');
    const rejected = decided.filter((d) => d.status === 'rejected').length;
    const latencies = awaiting.map((d) => d.decidedAt - d.pendingAt).sort((a, b) => a - b);
    const first = Math.min(...decided.map((d) => d.pendingAt));
    const last = Math.max(...decided.filter((d) => d.status === 'awaiting_payment' || d.status === 'rejected').map((d) => d.decidedAt));
    const windowSeconds = (last - first) / 1000;
    const hot = await call<{ items?: { sku: string; source: string }[] }>('GET', '/v1/inventory/hot-skus');
    return {
      name: spec.name,
      orders: opts.orders,
      placementErrors,
      awaiting: awaiting.length,
      rejected,
      undecided: decided.length - awaiting.length - rejected,
      placedPerSecond: accepted.length / placedSeconds,
      awaitingPerSecond: awaiting.length / windowSeconds,
      windowSeconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1] ?? NaN,
      cpuSeconds,
      loadWindowSeconds,
      loadAverage,
      hotSkus: (hot.body?.items ?? []).map((h) => `${h.sku} (${h.source})`),
      setupSeconds,
      idleCpuSeconds,
      pgStatements: statements,
      database: { commits: work1.commits - work0.commits, walBytes: work1.walBytes - work0.walBytes },
      contextSwitches: switches1 - switches0,
    };
  } finally {
    close();
    await platform.stop();
  }
}
