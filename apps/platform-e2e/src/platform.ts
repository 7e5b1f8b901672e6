import { ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '../../..');
/** The services tools/launcher/services.js starts. */
export const SERVICES = ['identity', 'catalog', 'inventory', 'orders', 'billing'];

/** Whether `port` can be listened on now on every interface, as the services listen. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** Ports this process has handed out: none twice, even before the launcher has bound the first. */
const handedOut = new Set<number>();
const SLICE = 1_500;

/**
 * A port free now, for a platform's service. Picked below Linux's ephemeral range (32768–60999), from which the
 * kernel also gives outgoing connections their ports, so no client socket of the tests can take it between this
 * check and the launcher's listen (or a restart on the same ports). Each Jest worker draws from its own slice of
 * 20000–32000, and within a worker a port is handed out once: parallel test files and one platform's several ports
 * never collide.
 */
async function freePort(): Promise<number> {
  const worker = Math.max(1, Number(process.env['JEST_WORKER_ID'] ?? 1));
  const low = 20_000 + ((worker - 1) % 8) * SLICE;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * SLICE);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${low + SLICE}`);
}

export interface Platform {
  baseUrl: string;
  dataDir: string;
  pgPort: number;
  /** A service's own port (not routed by the gateway), e.g. for its /metrics. */
  serviceUrl: (name: string) => string;
  /** The gateway's metrics endpoint, on its own port (`METRICS_PORT`), not the public one. */
  gatewayMetricsUrl: string;
  output: () => string;
  secrets: () => Record<string, string>;
  /** Superuser URL of the platform's embedded PostgreSQL, for assertions across tenants and roles. */
  adminUrl: () => string;
  /** Starts the same platform again (same data folder and ports) after stop(). */
  restart: () => Promise<number>;
  /** Sends SIGTERM and resolves with the launcher's exit code. */
  stop: () => Promise<number | null>;
  /** The launcher's process id (with `detached`, also its process group id). */
  pid: () => number;
  /**
   * Ctrl-C as a terminal sends it: SIGINT to the launcher's whole process group (needs `detached`). Resolves with
   * the launcher's exit code.
   */
  interrupt: () => Promise<number | null>;
  /** Resolves once the launcher has exited, with its exit code or the signal that ended it. */
  exited: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface PlatformOptions {
  /** Run the launcher in a process group of its own, as a shell runs a foreground job, so `interrupt()` works. */
  detached?: boolean;
  /** Start it as the README says, `npm start` (npm then sh then the launcher), rather than the launcher itself. */
  viaNpm?: boolean;
}

/**
 * Runs `npm start`'s launcher as a child process on scratch ports and a scratch data folder, and waits until it
 * has printed its whole ready banner. Resolves with the time that took in ms.
 */
export async function startPlatform(
  extraEnv: Record<string, string> = {},
  options: PlatformOptions = {},
): Promise<Platform & { startupMs: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-e2e-'));
  // As root, PostgreSQL runs as the 'postgres' user, which must be able to enter the folder mkdtemp made private.
  chmodSync(dataDir, 0o755);
  const [port, pgPort] = await Promise.all([freePort(), freePort()]);
  // Every service on a scratch port too, so a developer's running `npm start` does not collide with the tests.
  const servicePorts: Record<string, string> = {};
  for (const name of SERVICES) servicePorts[`${name.toUpperCase()}_PORT`] = String(await freePort());
  servicePorts['METRICS_PORT'] = String(await freePort()); // the gateway's
  let out = '';
  let child: ChildProcess;

  const launch = async (): Promise<number> => {
    const t0 = Date.now();
    const from = out.length; // a restart must see its own "ready", not the previous run's
    const [command, args] = options.viaNpm ? ['npm', ['start']] : [process.execPath, ['tools/launcher/start.js']];
    child = spawn(command, args, {
      cwd: root,
      env: {
        ...process.env,
        ...servicePorts,
        ...extraEnv, // may move a service's port or METRICS_PORT, not the gateway's or PostgreSQL's
        PORT: String(port),
        EMBEDDED_PG_PORT: String(pgPort),
        TESSERA_DATA_DIR: dataDir,
        LOG_LEVEL: extraEnv.LOG_LEVEL ?? 'warn',
        // Never the developer's own database or brokers; a test asks for Kafka explicitly.
        DATABASE_URL: '',
        KAFKA_BROKERS: extraEnv.KAFKA_BROKERS ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    // A test process that dies without stop() (a crash, an unhandled error) must not leave a platform running:
    // the launcher stops everything on SIGTERM.
    const reap = () => child.kill('SIGTERM');
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
    child.stdout?.on('data', (d) => (out += d.toString()));
    child.stderr?.on('data', (d) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`platform not ready in 150s:\n${out.slice(-4000)}`)), 150_000);
      const onData = () => {
        // The banner's last line: "ready in" comes first, and the URLs after it may arrive in a later chunk.
        if (/\[tessera\] Ctrl-C stops everything/.test(out.slice(from))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`launcher exited with ${code} before ready:\n${out.slice(-4000)}`));
      });
    });
    return Date.now() - t0;
  };

  const exited = (): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    }
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  };
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const done = exited();
    child.kill('SIGTERM');
    return (await done).code;
  };
  const interrupt = async (): Promise<number | null> => {
    if (!options.detached) throw new Error('interrupt() needs startPlatform(env, { detached: true })');
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const done = exited();
    process.kill(-(child.pid as number), 'SIGINT');
    return (await done).code;
  };

  const startupMs = await launch();
  const secrets = (): Record<string, string> => JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    pgPort,
    serviceUrl: (name) => `http://127.0.0.1:${servicePorts[`${name.toUpperCase()}_PORT`]}`,
    gatewayMetricsUrl: `http://127.0.0.1:${servicePorts['METRICS_PORT']}/metrics`,
    startupMs,
    output: () => out,
    secrets,
    adminUrl: () => `postgres://postgres:${encodeURIComponent(secrets().POSTGRES_PASSWORD)}@127.0.0.1:${pgPort}/postgres`,
    restart: launch,
    stop: async () => {
      const code = await stop();
      return code;
    },
    pid: () => child.pid as number,
    interrupt,
    exited,
  };
}

/**
 * Runs an operator tool (`apps/<service>/src/<tool>-cli.ts`) as an operator would against this platform: the
 * service's URL in `<SERVICE>_URL`, the platform's secret from its data folder. Rejects when it exits non-zero.
 */
export function operatorTool(p: Platform, service: string, tool: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['-r', '@swc-node/register', `apps/${service}/src/${tool}-cli.ts`, ...args], {
    cwd: root,
    env: { ...process.env, [`${service.toUpperCase()}_URL`]: p.serviceUrl(service), TESSERA_DATA_DIR: p.dataDir },
  });
}

export function removeDataDir(p: Platform): void {
  rmSync(p.dataDir, { recursive: true, force: true });
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  token?: string;
  apiKey?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** A thin HTTP client for the gateway: JSON in, parsed JSON (or text) out. */
export function client(baseUrl: string) {
  return async function call<T = any>(method: string, url: string, opts: CallOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${baseUrl}${url}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (e.g. the /docs page)
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
}

/** Polls until `probe` returns a value (not undefined) or the time is up. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Signs a new tenant up through the gateway and logs its owner in. */
export async function signUp(
  api: ReturnType<typeof client>,
  tenant: { slug: string; name?: string; type?: 'single_brand' | 'mall'; defaultCurrency?: string; password?: string },
): Promise<{ token: string; email: string; password: string }> {
  const email = `owner@${tenant.slug}.test`;
  const password = tenant.password ?? 'correct horse battery staple';
  const { slug, name = slug, type, defaultCurrency } = tenant;
  const res = await api('POST', '/v1/tenants', { body: { name, slug, type, defaultCurrency, owner: { email, password, name: 'Owner' } } });
  if (res.status !== 201) throw new Error(`signup of ${slug}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  const login = await api('POST', '/v1/auth/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login to ${slug}: HTTP ${login.status}`);
  return { token: login.body.accessToken, email, password };
}
