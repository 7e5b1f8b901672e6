import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createEnvelope, ensureMessagingSchema, type EventTransport } from '@tessera/messaging';
import { startKafkaMock, type KafkaMockCluster } from '@tessera/testing';
import { makeTransport, type TransportSpec } from './bench-consumer';
import { BENCH_TOPIC, BenchPipeline } from './bench-pipeline';
import { costliestStatements, resetStatements, withClient } from './pg-admin';
import { descendantCpu } from './proc-cpu';

const RAW_TOPIC = 'tessera.benchraw.events';

// Plain CommonJS shared with Jest's globalSetup, outside the lib's TypeScript entry point.
// eslint-disable-next-line @nx/enforce-module-boundaries -- see above
const { startEmbeddedPostgres } = require('../../libs/testing/src/postgres/embedded-cluster.js') as {
  startEmbeddedPostgres(opts: { dataDir: string; fsync?: boolean }): Promise<{ url: string; stop(): Promise<void> }>;
};

interface Options {
  transports: string[];
  events: number;
  eventsPerTx: number;
  latencyEventsPerTx: number;
  writers: number;
  rate: number;
  seconds: number;
  fsync: boolean;
  partitions: number;
  /** Consumer handles a partition's batch in one inbox transaction (`handleBatch`); off: one per event. */
  batch: boolean;
  /** The relay's wait after a wake-up (default: OutboxRelay's). */
  lingerMs?: number;
  /** The services' pools run node-postgres in pipeline mode; off: every statement waits for the previous answer. */
  pipeline: boolean;
  /** As every service's pool, statements issued in one turn of the event loop leave in one write; off: one each. */
  coalesce: boolean;
  /** Also print the latency run second by second (events committed in that second: p50, p99, max). */
  timeline: boolean;
  /** The consumer in a child process of its own, as a consuming service is (default); off: in the bench's process. */
  consumerProcess: boolean;
  /** PostgreSQL preloads pg_stat_statements; each phase prints its costliest statements (µs per event). */
  pgStats: boolean;
}

/**
 * CPU microseconds per event, by process: this one (writers, relay, consumer), PostgreSQL, the Kafka mock; and the
 * write transactions PostgreSQL committed per event (`pg_stat_database.xact_commit`, which counts read-only ones too),
 * a measure of batching that the machine's other load does not skew.
 */
type CpuPerEvent = Record<'node' | 'postgres' | 'kafka' | 'commits' | 'walBytes', number>;

/** CPU seconds so far of this process and of its children (the embedded PostgreSQL, the Kafka mock), and commits. */
async function costNow(url: string): Promise<Record<keyof CpuPerEvent, number>> {
  const { user, system } = process.cpuUsage();
  const children = descendantCpu(process.pid, (cmd) =>
    /postgres/.test(cmd) ? 'postgres' : /mock-cluster|kafka-mock/.test(cmd) ? 'kafka' : /bench-consumer/.test(cmd) ? 'consumer' : undefined,
  );
  // Backends report their counts at most once a second: wait so that the previous phase's are in.
  await new Promise((r) => setTimeout(r, 1500));
  const { commits, walBytes } = await withClient(url, async (c) => {
    const { rows } = await c.query<{ commits: string; wal: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits, (SELECT wal_bytes FROM pg_stat_wal) AS wal`,
    );
    return { commits: Number(rows[0].commits), walBytes: Number(rows[0].wal) };
  });
  return {
    node: (user + system) / 1e6 + (children['consumer'] ?? 0),
    postgres: children['postgres'] ?? 0,
    kafka: children['kafka'] ?? 0,
    commits,
    walBytes,
  };
}

/**
 * Lets the previous phase's writes reach disk before the next phase starts: without it, the kernel's write-back of
 * the sustained run's dirty pages competed with the latency run's WAL flushes, and its first second showed commits
 * of 300–400 ms that belong to the earlier phase, not to the load being measured.
 */
async function settle(url: string): Promise<void> {
  await withClient(url, (c) => c.query('CHECKPOINT'));
}

/** Runs `fn` and returns its cost per event, for `events` events. */
async function costPerEvent<T>(url: string, events: number, fn: () => Promise<T>, o: Options, phase: string): Promise<[T, CpuPerEvent]> {
  if (o.pgStats) await resetStatements(url);
  const before = await costNow(url);
  const result = await fn();
  const after = await costNow(url);
  if (o.pgStats) await printStatements(url, events, phase);
  const per = (k: keyof CpuPerEvent, scale: number) => Math.round(((after[k] - before[k]) * scale) / events);
  return [
    result,
    {
      node: per('node', 1e6),
      postgres: per('postgres', 1e6),
      kafka: per('kafka', 1e6),
      commits: Math.round(((after.commits - before.commits) / events) * 100) / 100,
      walBytes: per('walBytes', 1),
    },
  ];
}

/** The phase's statements by PostgreSQL's planning + execution time, in µs per event (pg_stat_statements). */
async function printStatements(url: string, events: number, phase: string): Promise<void> {
  const rows = await costliestStatements(url, 20, { thisDatabase: true });
  process.stderr.write(`[bench] ${phase}: statements by PostgreSQL time (µs per event: plan + exec; calls per event)\n`);
  const us = (ms: number) => ((ms * 1000) / events).toFixed(1);
  for (const r of rows) {
    process.stderr.write(
      `[bench]   ${us(r.planMs)} + ${us(r.execMs)} µs, ${(r.calls / events).toFixed(2)} calls (${r.plans} planned): ${r.query.slice(0, 150)}\n`,
    );
  }
}

interface Result {
  transport: string;
  sustained: { events: number; seconds: number; perSecond: number; writtenPerSecond: number; cpu: CpuPerEvent };
  latency: { offered: number; events: number; p50: number; p99: number; max: number; cpu: CpuPerEvent };
  duplicates: number;
  transportOnly: { publishPerSecond: number; deliveredPerSecond: number };
}

function parseArgs(argv: string[]): Options {
  const arg = (name: string, dflt: string): string =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
  return {
    transports: arg('transports', 'postgres,kafka').split(','),
    events: Number(arg('events', '20000')),
    eventsPerTx: Number(arg('events-per-tx', '5')),
    latencyEventsPerTx: Number(arg('latency-events-per-tx', '1')),
    writers: Number(arg('writers', '8')),
    rate: Number(arg('rate', '1000')),
    seconds: Number(arg('seconds', '10')),
    fsync: arg('fsync', 'on') !== 'off',
    partitions: Number(arg('partitions', '16')),
    batch: arg('batch', 'on') !== 'off',
    lingerMs: arg('linger', '') === '' ? undefined : Number(arg('linger', '')),
    pipeline: arg('pipeline', 'on') !== 'off',
    coalesce: arg('coalesce', 'on') !== 'off',
    timeline: argv.includes('--timeline'),
    pgStats: argv.includes('--pg-stats'),
    consumerProcess: arg('consumer', 'process') !== 'inline',
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** (a) as fast as possible: `writers` concurrent loops of business transactions until `events` are written. */
async function sustained(p: BenchPipeline, o: Options): Promise<Omit<Result['sustained'], 'cpu'>> {
  const txs = Math.ceil(o.events / o.eventsPerTx);
  const before = p.handled;
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: o.writers }, async () => {
      while (next < txs) {
        next++;
        await p.placeOrder(o.eventsPerTx);
      }
    }),
  );
  const writeSeconds = (Date.now() - started) / 1000;
  await p.waitHandled(before + txs * o.eventsPerTx, 300_000);
  const seconds = (Date.now() - started) / 1000;
  const events = txs * o.eventsPerTx;
  return { events, seconds, perSecond: events / seconds, writtenPerSecond: events / writeSeconds };
}

/** (b) open loop at `rate` events/s, `latencyEventsPerTx` events per business transaction, for `seconds`. */
async function latency(p: BenchPipeline, o: Options): Promise<Omit<Result['latency'], 'cpu'>> {
  const perTx = o.latencyEventsPerTx;
  const total = Math.ceil((o.rate * o.seconds) / perTx) * perTx;
  const before = p.handled;
  const ids: string[] = [];
  const inFlight: Promise<void>[] = [];
  const started = Date.now();
  let sent = 0;
  while (sent < total) {
    // Start every transaction whose scheduled time has come, without waiting for earlier ones (no coordinated omission).
    const due = Math.min(total, Math.floor(((Date.now() - started) * o.rate) / 1000));
    for (; sent + perTx <= due; sent += perTx)
      inFlight.push(p.placeOrder(perTx).then((written) => void ids.push(...written)));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  await p.waitHandled(before + total, 120_000);
  const lat = p.latencies(ids).sort((a, b) => a - b);
  if (o.timeline) printTimeline(p, ids, started);
  return {
    offered: o.rate,
    events: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat[lat.length - 1],
  };
}

/** Latency by the second of the business commit: shows whether the tail is steady or a burst. */
function printTimeline(p: BenchPipeline, ids: string[], started: number): void {
  const buckets = new Map<number, number[]>();
  for (const id of ids) {
    const c = p.committedAt.get(id);
    const h = p.handledAt.get(id);
    if (c === undefined || h === undefined) continue;
    const second = Math.floor((c - started) / 1000);
    buckets.set(second, [...(buckets.get(second) ?? []), h - c]);
  }
  const handled = new Map<number, number>();
  for (const id of ids) {
    const h = p.handledAt.get(id);
    if (h !== undefined) handled.set(Math.floor((h - started) / 1000), (handled.get(Math.floor((h - started) / 1000)) ?? 0) + 1);
  }
  const tx = new Map<number, number[]>();
  for (const [at, ms] of p.transactionTimes) {
    const second = Math.floor((at - started) / 1000);
    if (second >= 0) tx.set(second, [...(tx.get(second) ?? []), ms]);
  }
  for (const [second, lat] of [...buckets].sort((a, b) => a[0] - b[0])) {
    lat.sort((a, b) => a - b);
    const t = (tx.get(second) ?? []).sort((a, b) => a - b);
    process.stderr.write(
      `[bench]   second ${second}: ${lat.length} committed, ${handled.get(second) ?? 0} handled; latency p50 ${percentile(lat, 50)} ms, ` +
        `p99 ${percentile(lat, 99)} ms, max ${lat[lat.length - 1]} ms; business transaction p99 ${percentile(t, 99)} ms\n`,
    );
  }
}

/**
 * (c) the transport alone, without outbox or inbox: `events` published in batches of 500 (as the relay does) to a
 * consumer group whose handler does nothing. Separates what the transport carries from what the database costs.
 */
async function transportOnly(transport: () => EventTransport, o: Options): Promise<Result['transportOnly']> {
  const pub = transport();
  const sub = transport();
  await pub.connect();
  await sub.connect();
  let delivered = 0;
  const handle = await sub.subscribe({
    groupId: 'bench-raw',
    topics: [RAW_TOPIC],
    handle: async () => void delivered++,
  });
  try {
    const events = Array.from({ length: o.events }, (_, i) =>
      createEnvelope({
        source: 'orders',
        type: 'orders.order.line-added',
        subject: randomUUID(),
        tenantId: randomUUID(),
        data: { line: i, sku: `SKU-${i}`, quantity: 1, priceMinor: 1999 },
      }),
    );
    const started = Date.now();
    for (let i = 0; i < events.length; i += 500) await pub.publish(RAW_TOPIC, events.slice(i, i + 500));
    const published = Date.now();
    const until = published + 120_000;
    while (delivered < events.length) {
      if (Date.now() > until) throw new Error(`transport only: ${delivered} of ${events.length} delivered`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return {
      publishPerSecond: events.length / ((published - started) / 1000),
      deliveredPerSecond: events.length / ((Date.now() - started) / 1000),
    };
  } finally {
    await handle.stop();
    await sub.close();
    await pub.close();
  }
}

async function runOne(name: string, url: string, spec: TransportSpec, o: Options): Promise<Result> {
  const p = await BenchPipeline.start(url, spec, {
    batch: o.batch,
    lingerMs: o.lingerMs,
    pipeline: o.pipeline,
    coalesce: o.coalesce,
    consumerProcess: o.consumerProcess,
  });
  try {
    // Before each phase: consumer group joined, JIT warm, connections open (as many as the open-loop run will use
    // at once: a service's pool is warm after its first minutes, a new backend costs PostgreSQL a fork and a fresh
    // set of prepared statements, and node-postgres closes connections idle for 10 s, as long as the previous phase).
    const warmUp = async () => {
      const before = p.handled;
      for (let i = 0; i < 50; i++) await p.placeOrder(o.eventsPerTx);
      for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 40 }, () => p.placeOrder(o.eventsPerTx)));
      await p.waitHandled(before + 250 * o.eventsPerTx, 60_000);
      await settle(url);
    };
    await warmUp();
    process.stderr.write(`[bench] ${name}: sustained run (${o.events} events)...\n`);
    const [s, sCpu] = await costPerEvent(url, o.events, () => sustained(p, o), o, `${name} sustained`);
    await warmUp();
    process.stderr.write(`[bench] ${name}: latency run (${o.rate}/s for ${o.seconds} s)...\n`);
    const [l, lCpu] = await costPerEvent(url, o.rate * o.seconds, () => latency(p, o), o, `${name} latency`);
    await p.stop();
    process.stderr.write(`[bench] ${name}: transport only (${o.events} events)...\n`);
    const t = await transportOnly(() => makeTransport(spec), o);
    return {
      transport: name,
      sustained: { ...s, cpu: sCpu },
      latency: { ...l, cpu: lCpu },
      duplicates: p.duplicateDeliveries,
      transportOnly: t,
    };
  } finally {
    await p.stop();
  }
}

function cpuCell(c: CpuPerEvent): string {
  return `${c.node + c.postgres + c.kafka} (${c.node}+${c.postgres}+${c.kafka}), ${c.commits} commits, ${c.walBytes} B WAL`;
}

function printTable(results: Result[], o: Options): void {
  const rows = [
    [
      'transport',
      'sustained events/s (commit → handled)',
      'written events/s',
      'events',
      'seconds',
      `p50 ms @${o.rate}/s`,
      `p99 ms @${o.rate}/s`,
      'max ms',
      'duplicates',
      'transport only: publish/s',
      'transport only: delivered/s',
      'per event, sustained: CPU µs (node+pg+kafka), commits, WAL',
      `per event @${o.rate}/s: CPU µs, commits, WAL`,
    ],
    ...results.map((r) => [
      r.transport,
      r.sustained.perSecond.toFixed(0),
      r.sustained.writtenPerSecond.toFixed(0),
      String(r.sustained.events),
      r.sustained.seconds.toFixed(2),
      String(r.latency.p50),
      String(r.latency.p99),
      String(r.latency.max),
      String(r.duplicates),
      r.transportOnly.publishPerSecond.toFixed(0),
      r.transportOnly.deliveredPerSecond.toFixed(0),
      cpuCell(r.sustained.cpu),
      cpuCell(r.latency.cpu),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  console.log(
    `bench:events: ${o.events} events in transactions of ${o.eventsPerTx} by ${o.writers} writers; latency at ${o.rate} events/s ` +
      `for ${o.seconds} s (${o.latencyEventsPerTx} per transaction); ${o.partitions} partitions; consumer ${o.consumerProcess ? 'in a process of its own' : 'in the bench process'}, batches ${o.batch ? 'on' : 'off'}; pipeline ${o.pipeline ? 'on' : 'off'}; write coalescing ${o.coalesce ? 'on' : 'off'}; PostgreSQL fsync=${o.fsync ? 'on' : 'off'}; ` +
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}, Node ${process.version}`,
  );
  if (o.pgStats) process.env.EMBEDDED_PG_STAT_STATEMENTS = 'on';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-pg-'));
  fs.rmSync(dataDir, { recursive: true, force: true });
  const pg = await startEmbeddedPostgres({ dataDir, fsync: o.fsync });
  let kafka: KafkaMockCluster | undefined;
  const results: Result[] = [];
  try {
    for (const name of o.transports) {
      const url = await createDatabase(pg.url, `bench_${name}`);
      if (name === 'postgres') {
        await ensureMessagingSchema(url);
        results.push(await runOne(name, url, { kind: 'postgres', url, partitions: o.partitions }, o));
      } else if (name === 'kafka') {
        kafka = await startKafkaMock({
          brokers: 3,
          topics: [
            { name: BENCH_TOPIC, partitions: o.partitions },
            { name: RAW_TOPIC, partitions: o.partitions },
          ],
        });
        results.push(await runOne(name, url, { kind: 'kafka', brokers: kafka.brokers, partitions: o.partitions }, o));
      } else {
        throw new Error(`unknown transport '${name}' (postgres, kafka)`);
      }
    }
  } finally {
    await kafka?.stop();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  printTable(results, o);
  console.log(
    `load average at the end: ${os.loadavg()[0].toFixed(1)} (other processes on the machine skew the numbers)`,
  );
}
