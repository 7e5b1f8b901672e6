import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHmac, randomUUID } from 'node:crypto';
import { client, eventually, removeDataDir, SERVICES, startPlatform, type Platform } from './platform';

/** Listening TCP sockets by port: the local addresses they are bound to (Linux's /proc/net/tcp and tcp6). */
function listeningAddresses(): Map<number, string[]> {
  const byPort = new Map<number, string[]>();
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue; // 0A: LISTEN
      const [hex, portHex] = local.split(':');
      let address: string;
      if (!v6) address = (hex.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.');
      else if (/^0+$/.test(hex)) address = '::';
      else if (hex === '00000000000000000000000001000000') address = '::1';
      else address = hex;
      const port = parseInt(portHex, 16);
      byPort.set(port, [...(byPort.get(port) ?? []), address]);
    }
  }
  return byPort;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Proc {
  pid: number;
  pgid: number;
  cmd: string;
}

/**
 * Every live process of the platform whose data folder is `dataDir`: all of them, PostgreSQL's included, inherit
 * TESSERA_DATA_DIR from the launcher (Linux /proc; the tests run as root, so other users' environments are readable).
 */
function platformProcesses(dataDir: string): Proc[] {
  const marker = `\0TESSERA_DATA_DIR=${dataDir}\0`;
  const found: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!`\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // pid (comm) state ppid pgrp ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
      found.push({ pid: Number(entry), pgid: Number(pgrp), cmd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Waits until no process of the platform is left (the launcher may be gone already). */
function allStopped(platform: Platform, timeoutMs = 30_000): Promise<true> {
  return eventually(async () => (platformProcesses(platform.dataDir).length === 0 ? true : undefined), 'every process of the platform to stop', timeoutMs);
}

/** Stops the platform and removes its data folder; whatever a failed test left running must not outlive it. */
async function stopAndClean(platform: Platform): Promise<void> {
  await platform.stop();
  for (const p of platformProcesses(platform.dataDir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  removeDataDir(platform);
}

describe('npm start (tools/launcher)', () => {
  it('refuses to start naming a timeout or port that is not a whole number in range, or a secrets file that is not JSON', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-e2e-'));
    try {
      for (const [name, value, range] of [
        ['SHUTDOWN_TIMEOUT_MS', 'soon', '1 to 2147483647'],
        ['STARTUP_TIMEOUT_MS', '2m', '1 to 2147483647'],
        // Beyond Node's largest timer a timeout fires after 1 ms instead.
        ['SHUTDOWN_TIMEOUT_MS', '3000000000', '1 to 2147483647'],
        ['STARTUP_TIMEOUT_MS', '2147483648', '1 to 2147483647'],
        ['PORT', '70000', '1 to 65535'],
        ['CATALOG_PORT', '0', '1 to 65535'],
        ['EMBEDDED_PG_PORT', 'x', '1 to 65535'],
      ]) {
        const run = spawnSync(process.execPath, ['tools/launcher/start.js'], {
          cwd: path.resolve(__dirname, '../../..'),
          env: { ...process.env, [name]: value, TESSERA_DATA_DIR: dataDir },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect({ name, status: run.status }).toEqual({ name, status: 1 });
        expect(run.stdout).toContain(`start failed: ${name} must be a whole number from ${range}, got ${JSON.stringify(value)}`);
      }
      // A secrets file cut short (a crash while it was written) is named, not replaced: the database was set up with it.
      writeFileSync(path.join(dataDir, 'secrets.json'), '{"POSTGRES_PASS');
      const run = spawnSync(process.execPath, ['tools/launcher/start.js'], {
        cwd: path.resolve(__dirname, '../../..'),
        env: { ...process.env, TESSERA_DATA_DIR: dataDir },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain(`start failed: ${path.join(dataDir, 'secrets.json')} is not valid JSON`);
      expect(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')).toBe('{"POSTGRES_PASS');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start, before anything else, naming a service URL, DATABASE_URL, KAFKA_BROKERS or a setting every service reads that it could not use', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-e2e-'));
    // Scratch ports and a short startup timeout: a launcher that let a bad value through must not hold default ports
    // or wait two minutes for a service it cannot reach.
    const scratch = { PORT: '29901', IDENTITY_PORT: '29902', CATALOG_PORT: '29903', INVENTORY_PORT: '29904', ORDERS_PORT: '29905', BILLING_PORT: '29906', METRICS_PORT: '29907', EMBEDDED_PG_PORT: '29908', STARTUP_TIMEOUT_MS: '15000' };
    const start = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['tools/launcher/start.js'], {
        cwd: path.resolve(__dirname, '../../..'),
        env: { ...process.env, DATABASE_URL: '', KAFKA_BROKERS: '', ...scratch, ...env, TESSERA_DATA_DIR: dataDir },
        encoding: 'utf8',
        timeout: 60_000,
      });
    try {
      for (const [env, message] of [
        [{ IDENTITY_URL: 'not a url' }, 'IDENTITY_URL must be an http:// or https:// URL, got "not a url"'],
        [{ ORDERS_URL: 'ftp://127.0.0.1:3104' }, 'ORDERS_URL must be an http:// or https:// URL, got "ftp://127.0.0.1:3104"'],
        [{ DATABASE_URL: 'not-a-url' }, 'DATABASE_URL is not a URL (postgres://user:password@host:port/database)'],
        [{ DATABASE_URL: 'mysql://u:secret@db/x' }, 'DATABASE_URL must be a postgres:// or postgresql:// URL, not mysql://'],
        [{ KAFKA_BROKERS: ',' }, 'KAFKA_BROKERS lists no broker (","): give host:port[,host:port...], or leave it unset for the postgres log'],
        [{ KAFKA_BROKERS: ' , ' }, 'KAFKA_BROKERS lists no broker (" , ")'],
        // Read by every service: refused here, before PostgreSQL, not by each service half a minute later.
        [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
        [{ DATABASE_POOL_SIZE: '2' }, 'DATABASE_POOL_SIZE must be a whole number from 3 to 1000, got "2"'],
        [{ INBOX_RETENTION_MS: '1000' }, 'INBOX_RETENTION_MS must be a whole number from 86400000 to 9007199254740991, got "1000"'],
        [{ INTERNAL_TOKEN_SECRET: 'short' }, 'INTERNAL_TOKEN_SECRET must be at least 32 characters, got 5'],
        [{ EVENT_MAX_ATTEMPTS: 'ten' }, 'EVENT_MAX_ATTEMPTS must be a whole number from 0 to 1000, got "ten"'],
      ] as const) {
        const run = start(env);
        expect({ env, status: run.status }).toEqual({ env, status: 1 });
        expect(run.stdout).toContain(`start failed: ${message}`);
        // The password in DATABASE_URL is never printed.
        expect(run.stdout).not.toContain('secret');
        expect(run.stdout).not.toContain('embedded PostgreSQL on');
        expect(run.stdout).not.toContain('migrations');
        expect(readdirSync(dataDir)).not.toContain('postgres');
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('takes a service URL with a trailing slash as the gateway does, without it', async () => {
    // A port of our own for identity, so its URL can name it (startPlatform picks the others).
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const identityPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    // A short startup timeout: a launcher that polled `//health/ready` would wait all of it.
    const platform = await startPlatform({ IDENTITY_PORT: String(identityPort), IDENTITY_URL: `http://127.0.0.1:${identityPort}//`, STARTUP_TIMEOUT_MS: '60000' });
    try {
      const api = client(platform.baseUrl);
      const slug = `slash-${randomUUID().slice(0, 8)}`;
      const owner = { email: `o@${slug}.test`, password: 'trailing slash pw', name: 'Sol' };
      expect((await api('POST', '/v1/tenants', { body: { name: 'Slash', slug, owner } })).status).toBe(201);
    } finally {
      await stopAndClean(platform);
    }
  });

  it('refuses to start, before PostgreSQL and any migration, naming each port that is taken or given twice', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-e2e-'));
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    const takenPort = (taken.address() as net.AddressInfo).port;
    try {
      const run = spawnSync(process.execPath, ['tools/launcher/start.js'], {
        cwd: path.resolve(__dirname, '../../..'),
        env: { ...process.env, TESSERA_DATA_DIR: dataDir, DATABASE_URL: '', PORT: String(takenPort), ORDERS_PORT: '3999', BILLING_PORT: '3999' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain(`port ${takenPort} (the gateway) is in use: set PORT to a free port`);
      expect(run.stdout).toContain('BILLING_PORT and ORDERS_PORT are both 3999 (billing, orders)');
      // No PostgreSQL cluster was made or started.
      expect(readdirSync(dataDir)).not.toContain('postgres');
      expect(run.stdout).not.toContain('embedded PostgreSQL on');
    } finally {
      taken.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('started with npm start, stops everything on SIGTERM to npm and keeps its data across a restart', async () => {
    // What an init system or `docker stop` does: SIGTERM to the process it started, here npm. METRICS_PORT=0 lets
    // the gateway take any free port for its metrics, and the printed URL is the one it took.
    const platform = await startPlatform({ METRICS_PORT: '0' }, { viaNpm: true });
    try {
      const metricsUrl = /metrics \(internal\): (http:\/\/127\.0\.0\.1:(\d+)\/metrics)/.exec(platform.output());
      expect(Number(metricsUrl?.[2])).toBeGreaterThan(0);
      const metrics = await fetch(metricsUrl?.[1] as string);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('# TYPE');
      // The internal ports (each service's, the gateway's metrics) listen on the loopback only; the public one on
      // every interface.
      const listening = listeningAddresses();
      for (const name of SERVICES) expect([name, listening.get(Number(new URL(platform.serviceUrl(name)).port))]).toEqual([name, ['127.0.0.1']]);
      expect(listening.get(Number(metricsUrl?.[2]))).toEqual(['127.0.0.1']);
      expect(listening.get(Number(new URL(platform.baseUrl).port))).toEqual(['::']);
      const api = client(platform.baseUrl);
      const slug = `keep-${randomUUID().slice(0, 8)}`;
      const owner = { email: `o@${slug}.test`, password: 'persistent password', name: 'Kim' };
      expect((await api('POST', '/v1/tenants', { body: { name: 'Keep', slug, owner } })).status).toBe(201);
      expect(platform.output()).toMatch(/API docs\s+http:\/\/localhost:\d+\/docs/);

      expect(await platform.stop()).toBe(0);
      // The launcher, the services and PostgreSQL all went with npm (under sh -c they were left running).
      await allStopped(platform, 5_000).catch(() => undefined);
      expect(platformProcesses(platform.dataDir).map((p) => p.cmd)).toEqual([]);
      expect(await portOpen(platform.pgPort)).toBe(false);
      expect(await portOpen(Number(new URL(platform.baseUrl).port))).toBe(false);

      await platform.restart();
      const login = await api('POST', '/v1/auth/login', { body: { email: owner.email, password: owner.password } });
      expect(login.status).toBe(200);
      expect(await platform.stop()).toBe(0);
    } finally {
      await stopAndClean(platform);
    }
  });

  it('on Ctrl-C stops the gateway, then the services (drained and flushed), then PostgreSQL, and leaves nothing behind', async () => {
    const platform = await startPlatform({ LOG_LEVEL: 'info' }, { detached: true });
    try {
      const api = client(platform.baseUrl);
      const slug = `ctrlc-${randomUUID().slice(0, 8)}`;
      const owner = { email: `o@${slug}.test`, password: 'interrupted password', name: 'Ira' };
      expect((await api('POST', '/v1/tenants', { body: { name: 'Ctrl-C', slug, owner } })).status).toBe(201);

      const launcher = platform.pid();
      const running = platformProcesses(platform.dataDir);
      for (const name of [...SERVICES, 'gateway']) {
        expect(running.some((p) => p.cmd.includes(`apps/${name}/src/main.ts`))).toBe(true);
      }
      expect(running.some((p) => /\/postgres -D /.test(p.cmd))).toBe(true);
      // No service or gateway holds the superuser's URL or the password behind the runtime roles; each service has
      // its own role's URL with a password of its own, and only identity holds the signing and encryption keys.
      const environ = (name: string) => {
        const proc = running.find((p) => p.cmd.includes(`apps/${name}/src/main.ts`));
        const vars = readFileSync(`/proc/${proc?.pid}/environ`, 'latin1').split('\0');
        return new Map(vars.filter(Boolean).map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
      };
      const passwords = new Set<string>();
      // The gateway alone holds the platform's INTERNAL_TOKEN_SECRET; each service holds its own key derived from it.
      const platformSecret = platform.secrets().INTERNAL_TOKEN_SECRET;
      // service-kit's serviceContextKey, which the services' tests and the gateway's use (this project may not import it).
      const serviceContextKey = (secret: string, service: string) => createHmac('sha256', secret).update(`tessera.caller-context.${service}`).digest('base64url');
      expect(environ('gateway').get('INTERNAL_TOKEN_SECRET')).toBe(platformSecret);
      expect(SERVICES.map((name) => environ(name).get('INTERNAL_TOKEN_SECRET'))).toEqual(SERVICES.map((name) => serviceContextKey(platformSecret, name)));
      expect(new Set([platformSecret, ...SERVICES.map((name) => environ(name).get('INTERNAL_TOKEN_SECRET'))]).size).toBe(SERVICES.length + 1);
      for (const name of [...SERVICES, 'gateway']) {
        const env = environ(name);
        for (const secret of ['DATABASE_URL', 'DB_APP_PASSWORD', 'POSTGRES_PASSWORD']) expect({ name, secret, set: env.has(secret) }).toEqual({ name, secret, set: false });
        const identityOnly = name === 'identity';
        for (const key of ['JWT_SIGNING_KEYS', 'CREDENTIALS_ENCRYPTION_KEYS']) expect({ name, key, set: env.has(key) }).toEqual({ name, key, set: identityOnly });
        if (name === 'gateway') continue;
        const own = new URL(env.get(`${name.toUpperCase()}_DATABASE_URL`) ?? 'missing:');
        expect(decodeURIComponent(own.username)).toBe(`tessera_${name}`);
        passwords.add(own.password);
        expect([...env.values()].some((v) => v.includes(platform.secrets().POSTGRES_PASSWORD))).toBe(false);
      }
      expect(passwords.size).toBe(SERVICES.length);

      const from = platform.output().length;
      expect(await platform.interrupt()).toBe(0);
      const lines = platform.output().slice(from).split('\n');
      const index = (what: string, match: (line: string) => boolean): number => {
        const i = lines.findIndex(match);
        if (i < 0) throw new Error(`no line for ${what} in:\n${lines.join('\n')}`);
        return i;
      };
      const serviceLine = (name: string, msg: string) => (line: string) =>
        line.includes(`"service":"${name}"`) && line.includes(`"msg":"${msg}"`);

      const gatewayDone = index('gateway shutdown complete', serviceLine('gateway', 'Shutdown complete'));
      const gatewayStopped = index('gateway stopped', (l) => l === '[tessera] gateway stopped');
      const pgStopped = index('PostgreSQL stopped', (l) => l === '[tessera] PostgreSQL stopped');
      expect(gatewayDone).toBeLessThan(gatewayStopped);
      for (const name of SERVICES) {
        // Each service is told by the launcher (SIGTERM), after the gateway is gone, and has drained, flushed its
        // outbox relay and closed its pool while the database was still up.
        const begins = index(`${name} shutting down`, serviceLine(name, 'Shutting down on SIGTERM'));
        const done = index(`${name} shutdown complete`, serviceLine(name, 'Shutdown complete'));
        const stopped = index(`${name} stopped`, (l) => l === `[tessera] ${name} stopped`);
        expect(gatewayStopped).toBeLessThan(begins);
        expect(begins).toBeLessThan(done);
        expect(done).toBeLessThan(stopped);
        expect(stopped).toBeLessThan(pgStopped);
      }
      // Nobody got the terminal's SIGINT but the launcher, nothing was killed, nothing failed on the way down.
      const trouble = /SIGINT|stopped unexpectedly|killing it|final flush incomplete|terminating connection|"level":"(error|fatal)"/;
      expect(lines.filter((l) => trouble.test(l))).toEqual([]);
      // Like a shell's foreground job, the launcher led its own process group; everything it started ran outside it
      // (PostgreSQL too), which is why the terminal's SIGINT reached the launcher alone.
      expect(running.filter((p) => p.pgid === launcher).map((p) => p.cmd)).toEqual([expect.stringContaining('tools/launcher/start.js')]);

      expect(platformProcesses(platform.dataDir)).toEqual([]);
      expect(await portOpen(platform.pgPort)).toBe(false);
      expect(await portOpen(Number(new URL(platform.baseUrl).port))).toBe(false);

      // A launcher killed outright cannot stop anything itself: what it started notices and stops on its own.
      await platform.restart();
      process.kill(platform.pid(), 'SIGKILL');
      expect((await platform.exited()).signal).toBe('SIGKILL');
      await allStopped(platform);
    } finally {
      await platform.stop();
      removeDataDir(platform);
    }
  });
  it('a launcher that dies while a service shuts down leaves that shutdown to finish', async () => {
    const platform = await startPlatform({ LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '3000' });
    const socket = new net.Socket();
    try {
      // A request still arriving holds the orders service's drain open for its timeout.
      const ordersPort = Number(new URL(platform.serviceUrl('orders')).port);
      await new Promise<void>((resolve, reject) => socket.connect(ordersPort, '127.0.0.1', resolve).once('error', reject));
      socket.on('error', () => undefined);
      socket.write('POST /v1/orders HTTP/1.1\r\nHost: orders\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      const from = platform.output().length;
      const said = (msg: string) => (line: string) => line.includes('"service":"orders"') && line.includes(`"msg":"${msg}"`);
      const seen = (match: (line: string) => boolean) => async () => (platform.output().slice(from).split('\n').some(match) ? true : undefined);
      process.kill(platform.pid(), 'SIGTERM');
      await eventually(seen(said('Shutting down on SIGTERM')), 'orders to begin its shutdown');
      process.kill(platform.pid(), 'SIGKILL');
      // Orders finishes what it began (drain timed out, relay flushed, pool closed) instead of dying of a second SIGTERM.
      await eventually(seen(said('Shutdown complete')), 'orders to complete its shutdown', 20_000);
      await allStopped(platform);
    } finally {
      socket.destroy();
      await stopAndClean(platform);
    }
  });

  it('stops everything when PostgreSQL or its helper dies under it, leaves no server behind, and starts again', async () => {
    const platform = await startPlatform();
    let zombieParent: ChildProcess | undefined;
    try {
      const find = (pattern: RegExp) => platformProcesses(platform.dataDir).find((p) => pattern.test(p.cmd));

      // The server killed: the launcher notices and stops the platform (exit 1).
      let from = platform.output().length;
      process.kill((find(/\/postgres -D /) as Proc).pid, 'SIGKILL');
      expect((await platform.exited()).code).toBe(1);
      expect(platform.output().slice(from)).toMatch(/PostgreSQL stopped unexpectedly/);
      await allStopped(platform);

      // Its helper killed: the same, and the server it leaves behind is stopped too.
      await platform.restart();
      from = platform.output().length;
      process.kill((find(/tools\/launcher\/postgres\.js/) as Proc).pid, 'SIGKILL');
      expect((await platform.exited()).code).toBe(1);
      expect(platform.output().slice(from)).toMatch(/PostgreSQL stopped unexpectedly/);
      await allStopped(platform);
      expect(await portOpen(platform.pgPort)).toBe(false);

      // A killed server that nobody has reaped yet is a zombie, and PostgreSQL takes the zombie's pid in
      // postmaster.pid for a running server. This machine's init reaps orphans only every second or two, so the
      // zombie here is made to last: `sleep 0` backgrounded by a shell that then becomes `sleep 30`, which never
      // waits for it. It belongs to the server's user (PostgreSQL ignores a pid it may not signal). The next start
      // goes on all the same.
      const serverUid = process.getuid?.() === 0 ? Number(spawnSync('id', ['-u', 'postgres']).stdout.toString()) : undefined;
      zombieParent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'], uid: serverUid });
      const zombie = Number(await new Promise<string>((resolve) => zombieParent?.stdout?.once('data', (d) => resolve(String(d)))));
      await eventually(async () => (readFileSync(`/proc/${zombie}/stat`, 'latin1').includes(') Z ') ? true : undefined), 'the zombie');
      writeFileSync(path.join(platform.dataDir, 'postgres', 'postmaster.pid'), `${zombie}\n`);
      from = platform.output().length;
      await platform.restart();
      expect(platform.output().slice(from)).toMatch(new RegExp(`removing the stale postmaster\\.pid of a server that is gone \\(pid ${zombie}\\)`));
      expect((await fetch(`${platform.baseUrl}/health/ready`)).status).toBe(200);
      expect(await platform.stop()).toBe(0);
    } finally {
      zombieParent?.kill('SIGKILL');
      await stopAndClean(platform);
    }
  });
});
