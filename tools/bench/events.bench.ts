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
import { runBench } from './run-bench';

runBench(__filename, () => require('./bench-main') as { main: (argv: string[]) => Promise<void> });
