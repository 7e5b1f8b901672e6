/**
 * Connections per service pool when the service does not set one. Larger than node-postgres' 10 because services
 * pipeline their transactions and hold a connection through the commit's flush: under bench:checkout, 24 needed
 * about 15 % fewer commits and 10 % fewer context switches per order than 10 (40 a little fewer still), with no
 * difference in orders/s or latency beyond the noise (docs/benchmarks.md, "Larger service pools"). Pools open
 * connections only as concurrency asks for them and close them after POOL_IDLE_TIMEOUT_MS idle.
 */
export const DEFAULT_POOL_SIZE = 24;
/**
 * The outbox relay holds one connection of the pool for good (its advisory-lock session), and a consumer's
 * transaction takes another while requests need one too: with fewer than 3 a service waits on itself forever.
 */
const MIN_POOL_SIZE = 3;
const MAX_POOL_SIZE = 1000;

/**
 * `DATABASE_POOL_SIZE` from the environment (every service's pool), else DEFAULT_POOL_SIZE. Throws naming the
 * variable when it is not a whole number from 3 to 1000: the sum over services and replicas must stay below the
 * server's max_connections, so a typo must not pass silently.
 */
export function poolSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['DATABASE_POOL_SIZE'];
  if (raw === undefined || raw.trim() === '') return DEFAULT_POOL_SIZE;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < MIN_POOL_SIZE || size > MAX_POOL_SIZE) {
    throw new Error(`DATABASE_POOL_SIZE must be a whole number from ${MIN_POOL_SIZE} to ${MAX_POOL_SIZE}, got ${JSON.stringify(raw)}`);
  }
  return size;
}
