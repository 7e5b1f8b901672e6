/** The measurement behind tools/bench/pg-writes.bench.ts. */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { coalescingSocket, inTransaction, preparedRows, preparedSend, SERVICE_POOL_OPTIONS } from '@tessera/persistence';
import { descendantCpu, machineContextSwitches } from './proc-cpu';

// Plain CommonJS shared with Jest's globalSetup, outside the lib's TypeScript entry point.
// eslint-disable-next-line @nx/enforce-module-boundaries -- see above
const { startEmbeddedPostgres } = require('../../libs/testing/src/postgres/embedded-cluster.js') as {
  startEmbeddedPostgres(opts: { dataDir: string }): Promise<{ url: string; stop(): Promise<void> }>;
};

/** CPU seconds of the embedded PostgreSQL this process started (the server, its backends and reaped ones). */
function postgresCpuSeconds(): number {
  return descendantCpu(process.pid, (cmd) => (/postgres/.test(cmd) ? 'postgres' : undefined))['postgres'] ?? 0;
}

export async function main(argv: string[]): Promise<void> {
  const transactions = Number(argv[0] ?? 5000);
  if (!Number.isInteger(transactions) || transactions <= 0) throw new Error('the number of transactions must be a positive integer');
  // initdb runs as the 'postgres' user, so the folder is made by the cluster helper, not mkdtemp (mode 0700).
  const dir = path.join(os.tmpdir(), `tessera-pg-writes-${process.pid}`);
  const pg = await startEmbeddedPostgres({ dataDir: dir });
  try {
    const setup = await new DataSource({ type: 'postgres', url: pg.url }).initialize();
    await setup.query('CREATE SCHEMA w; CREATE TABLE w.a (id uuid PRIMARY KEY, v text); CREATE TABLE w.b (id uuid PRIMARY KEY, v text)');
    await setup.destroy();

    const run = async (coalesce: boolean) => {
      let writes = 0;
      const counted = (socket: Socket): Socket => {
        // Counted below the cork: one call per write or writev that reaches the kernel.
        for (const method of ['_write', '_writev'] as const) {
          const original = (socket as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
          (socket as unknown as Record<string, unknown>)[method] = function (this: Socket, ...args: unknown[]) {
            writes++;
            return original.apply(this, args);
          };
        }
        return socket;
      };
      const stream = () => counted(coalesce ? coalescingSocket() : new Socket());
      const ds = await new DataSource({
        type: 'postgres',
        url: pg.url,
        extra: { max: 8, ...SERVICE_POOL_OPTIONS, stream },
      }).initialize();
      const transaction = () =>
        inTransaction(
          ds,
          async (m) => {
            const id = randomUUID();
            await preparedRows(m, 'SELECT $1::uuid AS id', [id]);
            await preparedSend(m, 'INSERT INTO w.a (id, v) VALUES ($1, $2)', [id, 'x'.repeat(200)]);
            await preparedSend(m, 'INSERT INTO w.b (id, v) VALUES ($1, $2)', [id, 'y'.repeat(200)]);
          },
          { tenantId: randomUUID() },
        );
      for (let i = 0; i < 200; i++) await transaction();
      writes = 0;
      const node0 = process.cpuUsage();
      const pg0 = postgresCpuSeconds();
      const switches0 = machineContextSwitches();
      const started = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next++ < transactions) await transaction();
        }),
      );
      const seconds = (Date.now() - started) / 1000;
      const node = process.cpuUsage(node0);
      const pgSeconds = postgresCpuSeconds() - pg0;
      const switches = machineContextSwitches() - switches0;
      await ds.destroy();
      console.log(
        `coalescing ${coalesce ? 'on ' : 'off'}: ${(transactions / seconds).toFixed(0)} tx/s, ` +
          `${(writes / transactions).toFixed(2)} socket writes per tx, CPU per tx: ` +
          `node ${((node.user + node.system) / transactions).toFixed(0)} µs, PostgreSQL ${((pgSeconds * 1e6) / transactions).toFixed(0)} µs; ` +
          `${(switches / transactions).toFixed(1)} context switches per tx (whole machine)`,
      );
    };
    console.log(`pg-writes: ${transactions} transactions per run, 8 at a time; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}`);
    for (let i = 0; i < 3; i++) {
      await run(false);
      await run(true);
    }
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
