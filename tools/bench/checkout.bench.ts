/**
 * `npm run bench:checkout`: orders per second reaching `awaiting_payment` and placed-to-reserved latency, through
 * the gateway on the embedded default (postgres transport), for
 *   spread   10,000 SKUs, each order one unit of a random SKU;
 *   hot-on   one SKU flagged hot by staff, inventory hot path on (INVENTORY_HOT_PATH=true, detection on: the defaults);
 *   hot-off  the same SKU with the hot path and its detection off.
 * Each scenario starts its own platform (env is per process). A benchmark, not a test: it prints a table;
 * docs/benchmarks.md ("Checkout") keeps what it measured.
 *
 * Options (defaults): --scenarios=spread,hot-on,hot-off --orders=3000 --concurrency=64 --skus=10000 --json
 *   --cpu-prof=<dir>: every platform process writes a V8 CPU profile there when it stops (for finding where time goes).
 *   --pg-stats: PostgreSQL preloads pg_stat_statements, and each scenario lists the statements of its load window
 *   that took most planning and execution time, per order.
 * The same through env: BENCH_ORDERS, BENCH_CONCURRENCY, BENCH_SKUS, BENCH_SCENARIOS.
 */
import os from 'node:os';
import path from 'node:path';
import { runScenario, type ScenarioResult, type ScenarioSpec } from './checkout-scenario';

function options(argv: string[]) {
  const args = new Map(
    argv
      .filter((a) => a.startsWith('--'))
      .map((a) => {
        const [k, v] = a.slice(2).split('=');
        return [k, v ?? 'true'] as const;
      }),
  );
  const get = (name: string, envName: string, fallback: string) => args.get(name) ?? process.env[envName] ?? fallback;
  const positive = (name: string, envName: string, fallback: number) => {
    const n = Number(get(name, envName, String(fallback)));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return {
    scenarios: get('scenarios', 'BENCH_SCENARIOS', 'spread,hot-on,hot-off').split(','),
    orders: positive('orders', 'BENCH_ORDERS', 3000),
    concurrency: positive('concurrency', 'BENCH_CONCURRENCY', 64),
    skus: positive('skus', 'BENCH_SKUS', 10_000),
    json: args.has('json'),
    cpuProf: args.get('cpu-prof'),
    pgStats: args.has('pg-stats'),
  };
}

function specs(skus: number): Record<string, ScenarioSpec> {
  return {
    spread: {
      name: `spread (${skus.toLocaleString('en')} SKUs)`,
      env: {},
      skus,
      stockPerSku: 1000,
    },
    'hot-on': {
      name: 'hot SKU, hot path on',
      env: { INVENTORY_HOT_PATH: 'true', INVENTORY_HOT_DETECT: 'true' },
      skus: 1,
      stockPerSku: 1_000_000,
      flagHot: true,
    },
    'hot-off': {
      name: 'hot SKU, hot path off',
      env: { INVENTORY_HOT_PATH: 'false', INVENTORY_HOT_DETECT: 'false' },
      skus: 1,
      stockPerSku: 1_000_000,
    },
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [
    line(rows[0]),
    `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

function report(results: ScenarioResult[]): string {
  const ms = (v: number) => `${Math.round(v)} ms`;
  const main = table([
    [
      'scenario',
      'orders',
      'orders/s to awaiting_payment',
      'p50',
      'p99',
      'max',
      'rejected',
      'undecided',
      'placement (HTTP 202) orders/s',
      'placement errors',
    ],
    ...results.map((r) => [
      r.name,
      String(r.orders),
      r.awaitingPerSecond.toFixed(0),
      ms(r.p50Ms),
      ms(r.p99Ms),
      ms(r.maxMs),
      String(r.rejected),
      String(r.undecided),
      r.placedPerSecond.toFixed(0),
      String(r.placementErrors),
    ]),
  ]);
  const groups = [...new Set(results.flatMap((r) => Object.keys(r.cpuSeconds)))].sort();
  const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
  const platformCpu = (r: ScenarioResult) => Object.entries(r.cpuSeconds).reduce((sum, [g, v]) => (g === 'bench client' ? sum : sum + v), 0);
  const cpu = table([
    ['scenario', 'load window', ...groups, 'platform CPU ms per order'],
    ...results.flatMap((r) => [
      [
        r.name,
        `${r.loadWindowSeconds.toFixed(1)} s`,
        ...groups.map((g) => pct((r.cpuSeconds[g] ?? 0) / r.loadWindowSeconds)),
        ((platformCpu(r) * 1000) / r.orders).toFixed(1),
      ],
      [`  idle before`, '', ...groups.map((g) => (g in r.idleCpuSeconds ? pct(r.idleCpuSeconds[g]) : '')), ''],
      [`  CPU ms per order`, '', ...groups.map((g) => (((r.cpuSeconds[g] ?? 0) * 1000) / r.orders).toFixed(2)), ''],
    ]),
  ]);
  const notes = results.map(
    (r) =>
      `- ${r.name}: decision window ${r.windowSeconds.toFixed(1)} s, setup ${r.setupSeconds.toFixed(0)} s, ` +
      `load average at start ${r.loadAverage.map((l) => l.toFixed(2)).join(' ')}, hot SKUs after: ${r.hotSkus.join(', ') || 'none'}; ` +
      `PostgreSQL per order: ${(r.database.commits / r.orders).toFixed(1)} commits, ${(r.database.walBytes / r.orders / 1024).toFixed(1)} kB of WAL; ${Math.round(r.contextSwitches / r.orders)} context switches per order (whole machine)`,
  );
  const statements = results
    .filter((r) => r.pgStatements)
    .map((r) => {
      const all = r.pgStatements ?? [];
      const plan = all.reduce((sum, s) => sum + s.planMsPerOrder, 0);
      const exec = all.reduce((sum, s) => sum + s.execMsPerOrder, 0);
      return (
        `PostgreSQL statements, ${r.name} (top ${all.length}: planning ${plan.toFixed(2)} ms, execution ${exec.toFixed(2)} ms per order):\n\n` +
        table([
          ['role', 'calls', 'plans', 'plan ms/order', 'exec ms/order', 'statement'],
          ...all.map((s) => [s.role, String(s.calls), String(s.plans), s.planMsPerOrder.toFixed(3), s.execMsPerOrder.toFixed(3), s.query.replace(/\|/g, '\\|')]),
        ])
      );
    });
  return [`${main}\n\nCPU during the load window (100% = one core):\n\n${cpu}\n\n${notes.join('\n')}`, ...statements].join('\n\n');
}

export async function main(argv: string[]): Promise<void> {
  const opts = options(argv);
  const all = specs(opts.skus);
  const unknown = opts.scenarios.filter((s) => !all[s]);
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(all).join(', ')}`);
  const log = (line: string) => console.error(line);
  log(
    `checkout bench: ${opts.orders} orders per scenario at ${opts.concurrency} in flight; ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const t0 = Date.now();
  const results: ScenarioResult[] = [];
  for (const name of opts.scenarios) {
    const spec = all[name];
    if (opts.cpuProf) {
      spec.env.NODE_OPTIONS = `--require ${path.join(__dirname, 'cpu-profile.js')}`;
      spec.env.BENCH_CPU_PROF_DIR = path.resolve(opts.cpuProf, name);
    }
    results.push(
      await runScenario(spec, {
        orders: opts.orders,
        concurrency: opts.concurrency,
        pgStats: opts.pgStats,
        log,
      }),
    );
    // Each scenario's rows as soon as it ends (to stderr), so that a later failure does not lose them.
    if (!opts.json) log(report(results.slice(-1)));
  }
  console.log(opts.json ? JSON.stringify(results, null, 2) : report(results));
  log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
