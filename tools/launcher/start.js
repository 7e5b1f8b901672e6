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
const { spawn } = require('node:child_process');
const path = require('node:path');
const services = require('./services');
const { loadOrCreateSecrets } = require('./secrets');

const root = path.resolve(__dirname, '../..');
const dataDir = path.resolve(root, process.env.TESSERA_DATA_DIR ?? '.data');
const exitWithLauncher = path.join(__dirname, 'exit-with-launcher.js');
/** Running processes by name: migrations while they run, then the services and the gateway. */
const children = new Map();
let postgres;
let stopping = false;

const log = (msg) => process.stdout.write(`[tessera] ${msg}\n`);

/**
 * SHUTDOWN_TIMEOUT_MS (default 10 s, as in every service): how long each process may take to shut down. The
 * launcher waits a little longer than that before it kills one, so a service that uses its whole timeout still
 * gets to flush and close.
 */
function shutdownTimeoutMs(env) {
  const raw = env.SHUTDOWN_TIMEOUT_MS;
  // As in the services' configuration, an empty variable counts as unset.
  if (raw === undefined || raw === '') return 10_000;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new Error(`SHUTDOWN_TIMEOUT_MS must be a whole number of milliseconds > 0, got ${JSON.stringify(raw)}`);
  }
  return ms;
}
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
      if (child.exitCode !== null || child.signalCode !== null) return exited;
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
      else if (msg?.type === 'failed') reject(new Error(`PostgreSQL did not start: ${msg.message}`));
    });
    exited.then(({ code, signal }) => reject(new Error(`PostgreSQL helper exited (${signal ?? `code ${code}`}) while starting`)));
  });
  child.send({ type: 'start', options, graceMs });
  return { handle, ready };
}

// Generous by default: a cold start compiles every service's TypeScript on a possibly busy machine.
const READY_TIMEOUT_MS = Number(process.env.STARTUP_TIMEOUT_MS ?? 120_000);

async function waitReady(name, url, timeoutMs = READY_TIMEOUT_MS) {
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

let postgresStarting;

async function main() {
  const started = Date.now();
  graceMs = shutdownTimeoutMs(process.env) + SHUTDOWN_MARGIN_MS;
  const secrets = loadOrCreateSecrets(dataDir);
  const env = { ...process.env };
  for (const [k, v] of Object.entries(secrets)) if (k !== 'POSTGRES_PASSWORD' && !env[k]) env[k] = v;
  env.LOG_LEVEL ??= 'info';

  if (!env.DATABASE_URL) {
    const port = Number(env.EMBEDDED_PG_PORT ?? 54329);
    const { handle, ready } = startPostgres({ dataDir: path.join(dataDir, 'postgres'), port, persistent: true, password: secrets.POSTGRES_PASSWORD });
    postgresStarting = ready.catch(async (err) => {
      await handle.stop();
      throw err;
    });
    postgres = await postgresStarting;
    if (stopping) return;
    env.DATABASE_URL = postgres.url;
    log(`embedded PostgreSQL on 127.0.0.1:${port} (data in ${path.relative(root, dataDir)}/postgres)`);
  } else {
    log('using external PostgreSQL from DATABASE_URL');
  }
  log(env.KAFKA_BROKERS ? `event transport: kafka (${env.KAFKA_BROKERS})` : 'event transport: postgres log');

  // The first service's migrations also create the shared `messaging` schema of the postgres transport;
  // the others only touch their own schema, so they run side by side.
  const [first, ...rest] = services;
  const migrate = (svc) => runTs(svc.migrate, env, { name: `${svc.name} migrations`, wait: true });
  await migrate(first);
  await Promise.all(rest.map(migrate));
  if (stopping) return;
  log(`migrations done (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  for (const svc of services) env[svc.urlEnv] ??= `http://127.0.0.1:${svc.port}`;
  for (const svc of services) {
    runTs(svc.main, { ...env, PORT: String(svc.port), SERVICE_NAME: svc.name }, { name: svc.name });
  }
  await Promise.all(services.map((svc) => waitReady(svc.name, env[svc.urlEnv])));

  const gatewayPort = Number(env.PORT ?? services.gateway.defaultPort);
  runTs(services.gateway.main, { ...env, PORT: String(gatewayPort) }, { name: services.gateway.name });
  const base = `http://localhost:${gatewayPort}`;
  await waitReady('gateway', base);

  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  log(`API        ${base}/v1`);
  log(`API docs   ${base}/docs   (OpenAPI: ${base}/openapi.json)`);
  // The gateway's metrics are on a port of their own, not the public one (each service serves its own on its port).
  log(`health     ${base}/health/ready   metrics (internal): http://localhost:${env.METRICS_PORT || 9464}/metrics`);
  log('Ctrl-C stops everything');
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => shutdown(0));
main().catch((err) => {
  if (!stopping) {
    log(`start failed: ${err.message}`);
    shutdown(1);
  }
});
