/**
 * Runs `npm start`'s launcher (tools/launcher/start.js) for a benchmark: scratch ports, a scratch data folder,
 * env overrides per run (env is read once per process, so each configuration needs its own start).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { descendantCpu, processCpu } from './proc-cpu';

const root = path.resolve(__dirname, '../..');
const SERVICES = ['identity', 'catalog', 'inventory', 'orders', 'billing'];

/** Ports this process handed out: the kernel may give a just-closed ephemeral port again at once. */
const handedOut = new Set<number>();

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const chosen = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(chosen));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export interface BenchPlatform {
  baseUrl: string;
  startupMs: number;
  /** CPU seconds used so far by each process group under the launcher (gateway, services, postgres). */
  cpuSeconds: () => Record<string, number>;
  /** Superuser URL of the platform's embedded PostgreSQL (diagnostics). */
  adminUrl: string;
  /** Stops the launcher (SIGTERM) and removes the data folder. */
  stop: () => Promise<void>;
}

export async function startPlatform(extraEnv: Record<string, string>): Promise<BenchPlatform> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-bench-'));
  // As root, PostgreSQL runs as 'postgres', which must be able to enter the folder mkdtemp made private.
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    EMBEDDED_PG_PORT: String(await freePort()),
  };
  for (const name of SERVICES) env[`${name.toUpperCase()}_PORT`] = String(await freePort());
  env['METRICS_PORT'] = String(await freePort()); // the gateway's

  const t0 = Date.now();
  let out = '';
  const child: ChildProcess = spawn(process.execPath, ['tools/launcher/start.js'], {
    cwd: root,
    env: {
      ...process.env,
      ...extraEnv,
      ...env,
      TESSERA_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      KAFKA_BROKERS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A bench that dies without stop() must not leave a platform running: the launcher stops everything on SIGTERM.
  const reap = () => child.kill('SIGTERM');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  const collect = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`platform not ready in 120s:\n${out.slice(-4000)}`)), 120_000);
    child.stdout?.on('data', () => {
      if (/\[tessera\] ready in/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`launcher exited with ${code} before ready:\n${out.slice(-4000)}`));
    });
  });
  await ready.catch((e: unknown) => {
    if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  });

  const { POSTGRES_PASSWORD } = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as { POSTGRES_PASSWORD: string };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    adminUrl: `postgres://postgres:${encodeURIComponent(POSTGRES_PASSWORD)}@127.0.0.1:${env.EMBEDDED_PG_PORT}/postgres`,
    startupMs: Date.now() - t0,
    cpuSeconds: () => cpuByGroup(child.pid as number),
    stop: async () => {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Groups the launcher's descendants by what they run: the gateway, each service, or PostgreSQL (all backends). */
function cpuByGroup(launcherPid: number): Record<string, number> {
  const totals = descendantCpu(launcherPid, (cmd) => /apps\/([\w-]+)\/src\/main\.ts/.exec(cmd)?.[1] ?? (/postgres/.test(cmd) ? 'postgres' : undefined));
  const other = totals['other'] ?? 0;
  delete totals['other'];
  totals['launcher/other'] = processCpu(launcherPid) + other;
  return totals;
}
