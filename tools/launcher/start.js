#!/usr/bin/env node
// `npm start`: the embedded default on one machine. Starts PostgreSQL (unless DATABASE_URL is set), runs each
// service's migrations, starts every service as its own process and then the gateway, and stops them all on
// Ctrl-C, SIGTERM or SIGHUP: the gateway first, then the services (each drains, flushes its outbox relay and
// closes), PostgreSQL last. KAFKA_BROKERS switches the event transport from the postgres log to Kafka.
//
// Every process started here runs detached, in a session of its own, PostgreSQL included (tools/launcher/postgres.js
// runs it): a terminal's Ctrl-C signals its whole foreground process group, and only the launcher is left in it, so
// it alone decides the order. If the launcher itself is killed, its children notice the closed IPC channel and stop
// on their own (tools/launcher/exit-with-launcher.js), PostgreSQL after them.
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const path = require('node:path');
const services = require('./services');
const { loadOrCreateSecrets } = require('./secrets');
const { alive, postmasterPid } = require('./pids');
const { portProblems } = require('./ports');
const { MAX_TIMER_MS, checkDatabaseUrl, checkServiceSettings, intFromEnv, kafkaBrokersFromEnv, msFromEnv, portFromEnv, serviceUrlFromEnv } = require('./env');

const root = path.resolve(__dirname, '../..');
// Empty counts as unset, as for every other variable: `TESSERA_DATA_DIR=` must not put data in the repository's root.
const dataDir = path.resolve(root, process.env.TESSERA_DATA_DIR || '.data');
const exitWithLauncher = path.join(__dirname, 'exit-with-launcher.js');
/** Running processes by name: migrations while they run, then the services and the gateway. */
const children = new Map();
let postgres;
let stopping = false;

const log = (msg) => process.stdout.write(`[tessera] ${msg}\n`);
// `npm start | tee log` and Ctrl-C: the reader may be gone before the launcher has stopped everything. Losing the
// rest of the output is fine; dying of EPIPE halfway through the shutdown order is not.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

/**
 * SHUTDOWN_TIMEOUT_MS (default 10 s, as in every service): how long each process may take to shut down. The
 * launcher waits a little longer than that before it kills one, so a service that uses its whole timeout still
 * gets to flush and close.
 */
const SHUTDOWN_MARGIN_MS = 5_000;
let graceMs = 10_000 + SHUTDOWN_MARGIN_MS;

function runTs(file, env, { name, wait }) {
  if (stopping) return wait ? Promise.reject(new Error('stopping')) : undefined;
  const child = spawn(process.execPath, ['-r', exitWithLauncher, '-r', '@swc-node/register', file, ...(wait ? ['run'] : [])], {
    cwd: root,
    env: { ...env, SWC_NODE_PROJECT: path.join(root, 'tsconfig.base.json') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  children.set(name, child);
  postgres?.watch(child.pid);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => children.delete(name));
  if (wait) {
    return exited.then(({ code, signal }) => {
      if (code !== 0) throw new Error(`${name} exited with ${signal ?? `code ${code}`}`);
    });
  }
  exited.then(({ code, signal }) => {
    if (!stopping) {
      log(`${name} stopped unexpectedly (${signal ?? `code ${code}`}); shutting down`);
      shutdown(1);
    }
  });
  return child;
}

/**
 * Runs tools/launcher/postgres.js detached with an IPC channel and starts the embedded cluster in it. Resolves
 * with { url, port, watch(pid), stop() } once PostgreSQL accepts connections.
 */
function startPostgres(options) {
  const child = spawn(process.execPath, [path.join(__dirname, 'postgres.js')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const handle = {
    child,
    watch: (pid) => child.connected && child.send({ type: 'watch', pid }),
    /** Stops the server (fast shutdown) and waits for the helper to exit; kills both after the grace period. */
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        // The helper is gone (killed): a server it left behind still holds the port and the data folder.
        await stopOrphanedServer(options.dataDir);
        return exited;
      }
      const timer = setTimeout(() => {
        log(`PostgreSQL did not stop within ${graceMs / 1000}s; killing it`);
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      if (child.connected) child.send({ type: 'stop' });
      else child.kill('SIGTERM');
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  const ready = new Promise((resolve, reject) => {
    child.on('message', (msg) => {
      if (msg?.type === 'ready') resolve({ ...handle, url: msg.url, port: msg.port });
      else if (msg?.type === 'failed') reject(new Error(msg.message));
    });
    exited.then(({ code, signal }) => reject(new Error(`PostgreSQL helper exited (${signal ?? `code ${code}`}) while starting`)));
  });
  child.send({ type: 'start', options, graceMs });
  return { handle, ready };
}

/** Fast shutdown (SIGINT) of a postmaster whose helper died, by the pid in its postmaster.pid; waits up to graceMs. */
async function stopOrphanedServer(pgDataDir) {
  const pid = postmasterPid(pgDataDir);
  if (pid === null || !alive(pid)) return;
  log(`PostgreSQL's helper is gone; stopping the server (pid ${pid}) itself`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + graceMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Generous by default: a cold start compiles every service's TypeScript on a possibly busy machine.
let readyTimeoutMs = 120_000;

async function waitReady(name, url, timeoutMs = readyTimeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) throw new Error('stopping');
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} was not ready at ${url}/health/ready within ${timeoutMs / 1000}s`);
}

/** SIGTERM, then SIGKILL after the grace period. Resolves true when the process ended on its own terms. */
async function stopChild(name, child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode === 0 || child.exitCode === null;
  let killed = false;
  const { code, signal } = await new Promise((resolve) => {
    const timer = setTimeout(() => {
      killed = true;
      log(`${name} did not stop within ${graceMs / 1000}s (SHUTDOWN_TIMEOUT_MS + ${SHUTDOWN_MARGIN_MS / 1000}s); killing it`);
      child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
  // A process still starting has no handler yet and simply ends on SIGTERM: nothing was left unflushed.
  const clean = !killed && (code === 0 || signal === 'SIGTERM');
  log(`${name} stopped${clean && code === 0 ? '' : ` (${signal ?? `code ${code}`})`}`);
  return clean;
}

let shuttingDown;
function shutdown(code) {
  shuttingDown ??= (async () => {
    stopping = true;
    log('stopping…');
    // The gateway first so no new requests arrive, then the services side by side (each drains and flushes its
    // relay into the still running database), and whatever migrations are still running.
    let clean = true;
    const gateway = children.get(services.gateway.name);
    if (gateway) clean = (await stopChild(services.gateway.name, gateway)) && clean;
    const rest = await Promise.all([...children].map(([name, child]) => stopChild(name, child)));
    clean = rest.every(Boolean) && clean;
    // PostgreSQL last, also when it is still starting.
    const pg = postgres ?? (await postgresStarting?.catch(() => undefined));
    if (pg) {
      const { code: pgCode, signal } = await pg.stop();
      if (pgCode === 0) log('PostgreSQL stopped');
      else {
        log(`PostgreSQL stopped (${signal ?? `code ${pgCode}`})`);
        clean = false;
      }
    }
    log('stopped');
    process.exit(code !== 0 ? code : clean ? 0 : 1);
  })();
  return shuttingDown;
}

/**
 * Each runtime role's own password, derived from DB_APP_PASSWORD exactly as @tessera/persistence's
 * runtimeRolePassword does (the migrations set it from DB_APP_PASSWORD; a service's URL carries it), so a service
 * that leaks its connection string gives away its own role only, not the other services'.
 */
function rolePassword(appPassword, schema) {
  return crypto.createHmac('sha256', appPassword).update(`tessera_${schema}`).digest('base64url');
}

/**
 * The key a service verifies caller contexts with, derived from the platform's INTERNAL_TOKEN_SECRET exactly as
 * @tessera/service-kit's serviceContextKey does. The gateway holds the secret and signs for each service with that
 * service's key, so a service whose environment leaks can forge calls to itself only, not to identity or the others.
 */
function serviceContextKey(secret, service) {
  return crypto.createHmac('sha256', secret).update(`tessera.caller-context.${service}`).digest('base64url');
}

/** Secrets only some processes need; no other process receives them. */
const IDENTITY_ONLY = ['JWT_SIGNING_KEYS', 'CREDENTIALS_ENCRYPTION_KEYS'];
const LAUNCHER_ONLY = ['DATABASE_URL', 'DB_APP_PASSWORD', 'POSTGRES_PASSWORD'];

/**
 * The environment of a service (`svc`) or of the gateway (null): never the admin URL or the password behind every
 * runtime role; a service's own runtime URL as <NAME>_DATABASE_URL (unless set explicitly) and its own caller-context
 * key as INTERNAL_TOKEN_SECRET (the platform's secret is the gateway's only); the signing and encryption keys for
 * identity only.
 */
function processEnv(env, svc) {
  const out = { ...env };
  for (const k of LAUNCHER_ONLY) delete out[k];
  if (svc?.name !== 'identity') for (const k of IDENTITY_ONLY) delete out[k];
  if (svc) {
    out.INTERNAL_TOKEN_SECRET = serviceContextKey(env.INTERNAL_TOKEN_SECRET, svc.name);
    const urlEnv = `${svc.name.toUpperCase()}_DATABASE_URL`;
    if (!env[urlEnv]) {
      const url = new URL(env.DATABASE_URL);
      url.username = `tessera_${svc.name}`;
      url.password = encodeURIComponent(rolePassword(env.DB_APP_PASSWORD, svc.name));
      out[urlEnv] = url.toString();
    }
  }
  return out;
}

let postgresStarting;

async function main() {
  const started = Date.now();
  // The margin must not push the kill timer past the longest one Node keeps.
  graceMs = Math.min(msFromEnv(process.env, 'SHUTDOWN_TIMEOUT_MS', 10_000) + SHUTDOWN_MARGIN_MS, MAX_TIMER_MS);
  readyTimeoutMs = msFromEnv(process.env, 'STARTUP_TIMEOUT_MS', readyTimeoutMs);
  const gatewayPort = portFromEnv(process.env, 'PORT', services.gateway.defaultPort);
  for (const svc of services) svc.port = portFromEnv(process.env, `${svc.name.toUpperCase()}_PORT`, svc.defaultPort);
  // 0: a free port of the system's choosing, which the gateway reports once it listens.
  const metricsPort = intFromEnv(process.env, 'METRICS_PORT', 9464, { min: 0, max: 65535 });
  // Where the launcher polls each service and the gateway finds it, normalised as the gateway does.
  const serviceUrls = new Map(services.map((svc) => [svc.name, serviceUrlFromEnv(process.env, svc.urlEnv, `http://127.0.0.1:${svc.port}`)]));
  checkDatabaseUrl(process.env);
  checkServiceSettings(process.env);
  const kafkaBrokers = kafkaBrokersFromEnv(process.env);
  const embeddedPgPort = process.env.DATABASE_URL ? undefined : portFromEnv(process.env, 'EMBEDDED_PG_PORT', 54329);
  const secrets = loadOrCreateSecrets(dataDir);
  const problems = await portProblems([
    { port: gatewayPort, variable: 'PORT', what: 'the gateway' },
    ...services.map((svc) => ({ port: svc.port, variable: `${svc.name.toUpperCase()}_PORT`, what: svc.name })),
    ...(metricsPort === 0 ? [] : [{ port: metricsPort, variable: 'METRICS_PORT', what: "the gateway's metrics" }]),
    ...(embeddedPgPort === undefined ? [] : [{ port: embeddedPgPort, variable: 'EMBEDDED_PG_PORT', what: 'embedded PostgreSQL' }]),
  ]);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const env = { ...process.env };
  for (const [k, v] of Object.entries(secrets)) if (k !== 'POSTGRES_PASSWORD' && !env[k]) env[k] = v;
  env.LOG_LEVEL ??= 'info';

  if (embeddedPgPort !== undefined) {
    const port = embeddedPgPort;
    const { handle, ready } = startPostgres({ dataDir: path.join(dataDir, 'postgres'), port, persistent: true, password: secrets.POSTGRES_PASSWORD });
    postgresStarting = ready.catch(async (err) => {
      await handle.stop();
      throw err;
    });
    postgres = await postgresStarting;
    // The helper exits when the server does (tools/launcher/postgres.js watches it): the platform cannot go on.
    postgres.child.once('exit', (code, signal) => {
      if (stopping) return;
      log(`PostgreSQL stopped unexpectedly (${signal ?? `code ${code}`}); shutting down`);
      shutdown(1);
    });
    if (stopping) return;
    env.DATABASE_URL = postgres.url;
    log(`embedded PostgreSQL on 127.0.0.1:${port} (data in ${path.relative(root, dataDir)}/postgres)`);
  } else {
    log('using external PostgreSQL from DATABASE_URL');
  }
  log(kafkaBrokers ? `event transport: kafka (${kafkaBrokers.join(',')})` : 'event transport: postgres log');

  // The first service's migrations also create the shared `messaging` schema of the postgres transport;
  // the others only touch their own schema, so they run side by side.
  const [first, ...rest] = services;
  // Migrations run with the admin URL and DB_APP_PASSWORD and set the service's runtime role's own password from
  // it; the service itself gets only its runtime role's URL (below).
  const migrate = (svc) => runTs(svc.migrate, env, { name: `${svc.name} migrations`, wait: true });
  await migrate(first);
  await Promise.all(rest.map(migrate));
  if (stopping) return;
  log(`migrations done (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  for (const svc of services) env[svc.urlEnv] = serviceUrls.get(svc.name);
  for (const svc of services) {
    // A service the gateway reaches on this machine listens on the loopback only: its port is internal (/metrics and
    // /openapi.json need no credentials), and a laptop's network should not see it.
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(serviceUrls.get(svc.name)).hostname);
    runTs(svc.main, { ...processEnv(env, svc), PORT: String(svc.port), SERVICE_NAME: svc.name, ...(local ? { HOST: '127.0.0.1' } : {}) }, { name: svc.name });
  }
  await Promise.all(services.map((svc) => waitReady(svc.name, serviceUrls.get(svc.name))));

  // The gateway's public port listens where HOST says (every interface by default); its metrics on the loopback.
  const gatewayEnv = { ...processEnv(env, null), PORT: String(gatewayPort), METRICS_HOST: env.METRICS_HOST || '127.0.0.1' };
  const gateway = runTs(services.gateway.main, gatewayEnv, { name: services.gateway.name });
  if (!gateway) return; // stopping
  // The gateway reports the metrics port it listens on: with METRICS_PORT=0 only it knows which one that is.
  const listening = new Promise((resolve) => gateway.on('message', (msg) => msg?.type === 'listening' && resolve(msg)));
  const base = `http://localhost:${gatewayPort}`;
  await waitReady('gateway', base);
  const { metricsPort: actualMetricsPort } = await listening;

  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  log(`API        ${base}/v1`);
  log(`API docs   ${base}/docs   (OpenAPI: ${base}/openapi.json)`);
  // The gateway's metrics are on a port of their own, not the public one (each service serves its own on its port).
  log(`health     ${base}/health/ready   metrics (internal): http://${gatewayEnv.METRICS_HOST.includes(':') ? `[${gatewayEnv.METRICS_HOST}]` : gatewayEnv.METRICS_HOST}:${actualMetricsPort}/metrics`);
  log('Ctrl-C stops everything');
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => shutdown(0));
main().catch((err) => {
  if (!stopping) {
    log(`start failed: ${err.message}`);
    shutdown(1);
  }
});
