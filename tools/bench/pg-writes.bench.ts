/**
 * `node -r @swc-node/register tools/bench/pg-writes.bench.ts [transactions]`: what a service pool's write
 * coalescing (libs/persistence coalescing-socket.ts) saves on one small pipelined transaction, as services run them
 * (`inTransaction` with a tenant: BEGIN and set_config, one awaited SELECT, two inserts sent without waiting, COMMIT),
 * 8 at a time, on embedded PostgreSQL with fsync. Alternates off and on three times and prints, per transaction,
 * the socket writes that reached the kernel (write/writev calls), the CPU of this process and of PostgreSQL, and
 * the context switches of the whole machine.
 * A benchmark, not a test: docs/benchmarks.md keeps what it measured.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// The @tessera/* imports need tsconfig paths: run again with swc-node pointed at tsconfig.base.json.
if (!process.env.SWC_NODE_PROJECT) {
  const root = path.resolve(__dirname, '../..');
  const res = spawnSync(process.execPath, ['-r', '@swc-node/register', __filename, ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SWC_NODE_PROJECT: path.join(root, 'tsconfig.base.json') },
  });
  process.exit(res.status ?? 1);
} else {
  const { main } = require('./pg-writes') as { main: (argv: string[]) => Promise<void> };
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
