/**
 * `node -r @swc-node/register tools/bench/pg-writes.bench.ts [transactions]`: what a service pool's write
 * coalescing (libs/persistence coalescing-socket.ts) saves on one small pipelined transaction, as services run them
 * (`inTransaction` with a tenant: BEGIN and set_config, one awaited SELECT, two inserts sent without waiting, COMMIT),
 * 8 at a time, on embedded PostgreSQL with fsync. Alternates off and on three times and prints, per transaction,
 * the socket writes that reached the kernel (write/writev calls), the CPU of this process and of PostgreSQL, and
 * the context switches of the whole machine.
 * A benchmark, not a test: docs/benchmarks.md keeps what it measured.
 */
import { runBench } from './run-bench';

runBench(__filename, () => require('./pg-writes') as { main: (argv: string[]) => Promise<void> });
