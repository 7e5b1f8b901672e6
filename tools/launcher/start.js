#!/usr/bin/env node
// `npm start`: the embedded default on one machine. Starts PostgreSQL (unless DATABASE_URL is set), runs each
// service's migrations, starts every service as its own process and then the gateway, and stops them all on
// Ctrl-C or SIGTERM. KAFKA_BROKERS switches the event transport from the postgres log to Kafka.
const { spawn } = require('node:child_process');
const path = require('node:path');
const services = require('./services');
const { loadOrCreateSecrets } = require('./secrets');
const { startEmbeddedPostgres } = require('../../libs/testing/src/postgres/embedded-cluster');

const root = path.resolve(__dirname, '../..');
const dataDir = path.resolve(root, process.env.TESSERA_DATA_DIR ?? '.data');
const children = new Map();
let postgres;
let stopping = false;

const log = (msg) => process.stdout.write(`[tessera] ${msg}\n`);

function runTs(file, env, { name, wait }) {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', file, ...(wait ? ['run'] : [])], {
    cwd: root,
    env: { ...env, SWC_NODE_PROJECT: path.join(root, 'tsconfig.base.json') },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (wait) {
    return new Promise((resolve, reject) => {
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with code ${code}`))));
    });
  }
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      log(`${name} stopped unexpectedly (${signal ?? `code ${code}`}); shutting down`);
      shutdown(1);
    }
  });
  return child;
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

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  // The gateway first so no new requests arrive, then the services (each drains and flushes its relay).
  const order = [services.gateway.name, ...services.map((s) => s.name).reverse()];
  for (const name of order) {
    const child = children.get(name);
    if (!child) continue;
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
  if (postgres) await postgres.stop().catch((e) => log(`postgres stop failed: ${e.message}`));
  log('stopped');
  process.exit(code);
}

async function main() {
  const started = Date.now();
  const secrets = loadOrCreateSecrets(dataDir);
  const env = { ...process.env };
  for (const [k, v] of Object.entries(secrets)) if (k !== 'POSTGRES_PASSWORD' && !env[k]) env[k] = v;
  env.LOG_LEVEL ??= 'info';

  if (!env.DATABASE_URL) {
    const port = Number(env.EMBEDDED_PG_PORT ?? 54329);
    postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), port, persistent: true, password: secrets.POSTGRES_PASSWORD });
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
  log(`health     ${base}/health/ready   metrics: ${base}/metrics`);
  log('Ctrl-C stops everything');
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
main().catch((err) => {
  if (!stopping) {
    log(`start failed: ${err.message}`);
    shutdown(1);
  }
});
