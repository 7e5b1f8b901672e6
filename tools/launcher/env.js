// The launcher's own reading of the environment, all of it checked before anything starts: a value it cannot use
// stops `npm start` at once naming the variable, not minutes later (or never) when a process trips over it. As in
// the services' configuration, an empty variable counts as unset.

/** Node's longest timer: a longer delay fires after 1 ms instead (TimeoutOverflowWarning), as service-kit caps it. */
const MAX_TIMER_MS = 2_147_483_647;

/** A whole number, or `fallback` when unset; anything out of [min, max] stops the start naming the variable. */
function intFromEnv(env, name, fallback, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A duration the launcher sets a timer from (SHUTDOWN_TIMEOUT_MS, STARTUP_TIMEOUT_MS). */
const msFromEnv = (env, name, fallback) => intFromEnv(env, name, fallback, { max: MAX_TIMER_MS });
const portFromEnv = (env, name, fallback) => intFromEnv(env, name, fallback, { min: 1, max: 65535 });

/**
 * A service's base URL (<NAME>_URL), or `fallback` when unset: http or https, trailing slashes dropped as the
 * gateway drops them (apps/gateway/src/config.ts), so `${url}/health/ready` is a path the service answers.
 */
function serviceUrlFromEnv(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  let protocol;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    // not a URL
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`${name} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  return raw.replace(/\/+$/, '');
}

/**
 * Checks an external DATABASE_URL (unset: the embedded PostgreSQL). pg reads a string that is no URL as something
 * else (`not-a-url` fails as `getaddrinfo ENOTFOUND base`), so it is checked here; never echoed (its password).
 * libs/persistence's migrationCli checks it the same way.
 */
function checkDatabaseUrl(env) {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw === '') return;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('DATABASE_URL is not a URL (postgres://user:password@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must be a postgres:// or postgresql:// URL, not ${url.protocol}//`);
  }
}

/**
 * The brokers in KAFKA_BROKERS, or undefined for the postgres log. Keep in step with parseKafkaBrokers in
 * libs/messaging/src/lib/create-transport.ts, which the services and the migrations use (this file cannot import
 * TypeScript): comma-separated, trimmed, empties dropped; set but listing no broker is refused.
 */
function kafkaBrokersFromEnv(env) {
  const raw = env.KAFKA_BROKERS;
  if (raw === undefined || raw === '') return undefined;
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) {
    throw new Error(`KAFKA_BROKERS lists no broker (${JSON.stringify(raw)}): give host:port[,host:port...], or leave it unset for the postgres log`);
  }
  return brokers;
}

/** service-kit's LOG_LEVELS. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The settings every service reads, checked here by the services' own rules so that a bad value stops `npm start`
 * before PostgreSQL and the migrations, not half a minute later in each service (which check them again, as they
 * must when started without the launcher): LOG_LEVEL (service-kit), DATABASE_POOL_SIZE (persistence's
 * poolSizeFromEnv), INBOX_RETENTION_MS, OUTBOX_RETENTION_MS and EVENT_MAX_ATTEMPTS (messaging), INTERNAL_TOKEN_SECRET (service-kit: the
 * launcher derives every service's key from it, so a short one would pass the services and fail only the gateway).
 */
function checkServiceSettings(env) {
  const level = env.LOG_LEVEL;
  if (level !== undefined && level !== '' && !LOG_LEVELS.includes(level)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  if ((env.DATABASE_POOL_SIZE ?? '').trim() !== '') intFromEnv(env, 'DATABASE_POOL_SIZE', undefined, { min: 3, max: 1000 });
  intFromEnv(env, 'INBOX_RETENTION_MS', undefined, { min: 86_400_000 });
  intFromEnv(env, 'OUTBOX_RETENTION_MS', undefined, { min: 0 });
  intFromEnv(env, 'EVENT_MAX_ATTEMPTS', undefined, { min: 0, max: 1000 });
  const secret = env.INTERNAL_TOKEN_SECRET;
  if (secret !== undefined && secret !== '' && secret.length < 32) {
    throw new Error(`INTERNAL_TOKEN_SECRET must be at least 32 characters, got ${secret.length}`);
  }
}

module.exports = { MAX_TIMER_MS, intFromEnv, msFromEnv, portFromEnv, serviceUrlFromEnv, checkDatabaseUrl, kafkaBrokersFromEnv, checkServiceSettings };
