/**
 * `npm run bench:events`: events per second and commit-to-handled latency through the real pipeline
 * (business transaction + outbox → relay → transport → consumer with inbox) for each transport.
 * A benchmark, not a test: it prints a table; docs/benchmarks.md keeps what it measured.
 *
 * Options (defaults): --transports=postgres,kafka --events=20000 --events-per-tx=5 --writers=8 --rate=1000
 *   --seconds=10 --latency-events-per-tx=1 --partitions=16 --fsync=on --batch=on (off: one inbox transaction per event)
 *   --pipeline=on (off: no node-postgres pipeline mode) --coalesce=on (off: every statement a write of its own)
 *   --timeline (the latency run second by second)
 *   --pg-stats (PostgreSQL preloads pg_stat_statements; each phase prints its costliest statements per event)
 *   --consumer=process (the consuming service in a child process; inline: in the bench's own process)
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// The @tessera/* imports need tsconfig paths; started without them (plain `node -r @swc-node/register`),
// run again with swc-node pointed at tsconfig.base.json, as the launcher does for services.
if (!process.env.SWC_NODE_PROJECT) {
  const root = path.resolve(__dirname, '../..');
  const res = spawnSync(process.execPath, ['-r', '@swc-node/register', __filename, ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SWC_NODE_PROJECT: path.join(root, 'tsconfig.base.json') },
  });
  process.exit(res.status ?? 1);
} else {
  const { main } = require('./bench-main') as { main: (argv: string[]) => Promise<void> };
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
