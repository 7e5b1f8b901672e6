import { Agent, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { bootstrapService, HealthRegistry, shutdownDeadline, shutdownService, ShutdownRegistry, signCallerContext } from '../src';
import { FixtureModule, LogCapture, slowRequests, TEST_SECRET, testConfig } from './fixture.module';

interface Reply {
  status: number;
  body: string;
}

/** A plain GET on a fresh connection, so a refused connection shows as ECONNREFUSED. */
function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, headers, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until one more slow request is inside its handler, so shutdown really has work in flight. */
async function slowRequestStarted(before: number): Promise<void> {
  for (let waited = 0; slowRequests.started <= before; waited += 10) {
    if (waited > 5_000) throw new Error('the slow request never reached its handler');
    await sleep(10);
  }
}

describe('shutdownService', () => {
  let app: INestApplication;
  let port: number;
  let context: string;
  const hooksRun: string[] = [];
  let finishedWhenHooksStarted = -1;

  beforeEach(async () => {
    hooksRun.length = 0;
    app = await bootstrapService({
      name: 'shutdown-fixture',
      module: FixtureModule,
      port: 0,
      host: '127.0.0.1',
      config: testConfig,
      logDestination: new LogCapture(),
      handleSignals: false,
      configure: (nestApp) => {
        const hooks = nestApp.get(ShutdownRegistry);
        hooks.registerShutdownHook('flush relay', async () => {
          finishedWhenHooksStarted = slowRequests.finished;
          await sleep(20);
          hooksRun.push('flush relay');
        });
        hooks.registerShutdownHook('broken', () => {
          throw new Error('transport already gone');
        });
        hooks.registerShutdownHook('close database', () => {
          hooksRun.push('close database');
        });
      },
    });
    port = (app.getHttpServer().address() as AddressInfo).port;
    context = await signCallerContext(
      { requestId: 'r', tenantId: 't', principalId: 'u', principalType: 'user', roles: ['owner'], scopes: [] },
      TEST_SECRET,
    );
  });

  afterEach(async () => {
    // Every test shuts the app down itself; this only matters when a test failed half-way.
    await shutdownService(app, { timeoutMs: 100 });
  });

  it('finishes in-flight requests, refuses new connections, then runs the hooks in order', async () => {
    const before = slowRequests.started;
    const finishedBefore = slowRequests.finished;
    const inFlight = httpGet(port, '/widgets/slow?ms=700', { 'x-tessera-context': context });
    await slowRequestStarted(before);

    const shutdown = shutdownService(app, { timeoutMs: 5_000, signal: 'SIGTERM' });
    await sleep(50);
    await expect(httpGet(port, '/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(app.get(HealthRegistry).isShuttingDown).toBe(true);
    expect(hooksRun).toEqual([]);

    const reply = await inFlight;
    expect(reply).toEqual({ status: 200, body: JSON.stringify({ done: true }) });
    await shutdown;
    // The failing hook is logged and does not stop the ones after it.
    expect(hooksRun).toEqual(['flush relay', 'close database']);
    // The hooks ran only once the in-flight request was done.
    expect(finishedWhenHooksStarted).toBe(finishedBefore + 1);
    expect(app.getHttpServer().listening).toBe(false);
  });

  it('answers a request sent on a keep-alive connection that was idle when shutdown began, closing it after', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const onAgent = (path: string) =>
      new Promise<{ status: number; connection?: string; socket: unknown }>((resolve, reject) => {
        const req = get({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socket: req.socket }));
        });
        req.on('error', reject);
      });
    try {
      const first = await onAgent('/health/live');
      expect(first).toMatchObject({ status: 200, connection: 'keep-alive' });
      // The pooled connection is idle now, as a gateway's is between two requests.
      const shutdown = shutdownService(app, { timeoutMs: 5_000 });
      await sleep(20);
      const second = await onAgent('/health/live');
      expect(second).toMatchObject({ status: 200, connection: 'close' });
      // The same connection, not a new one (the server no longer accepts any).
      expect(second.socket).toBe(first.socket);
      await expect(httpGet(port, '/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await shutdown;
    } finally {
      agent.destroy();
    }
  });

  it('answers a request that was already running when shutdown began with Connection: close', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = slowRequests.started;
      const answered = new Promise<{ status: number; connection?: string }>((resolve, reject) => {
        const req = get({ host: '127.0.0.1', port, path: '/widgets/slow?ms=300', agent, headers: { 'x-tessera-context': context } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
      });
      await slowRequestStarted(before);
      const shutdown = shutdownService(app, { timeoutMs: 5_000 });
      // Answered keep-alive, the client could send its next request on the connection just as the drain closes it.
      expect(await answered).toEqual({ status: 200, connection: 'close' });
      await shutdown;
    } finally {
      agent.destroy();
    }
  });

  it('cuts requests still running after the timeout', async () => {
    const before = slowRequests.started;
    const stuck = httpGet(port, '/widgets/slow?ms=5000', { 'x-tessera-context': context });
    const outcome = stuck.then(
      () => 'answered',
      () => 'cut',
    );
    await slowRequestStarted(before);
    const started = Date.now();
    await shutdownService(app, { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await outcome).toBe('cut');
    expect(hooksRun).toEqual(['flush relay', 'close database']);
  });

  it('keeps the whole shutdown within its timeout: requests get half, the hooks what is left', async () => {
    const before = slowRequests.started;
    const stuck = httpGet(port, '/widgets/slow?ms=5000', { 'x-tessera-context': context }).catch(() => undefined);
    await slowRequestStarted(before);
    let deadlineSeen: number | undefined;
    let hookStarted = 0;
    app.get(ShutdownRegistry).registerShutdownHook('slow hook', async () => {
      hookStarted = Date.now();
      deadlineSeen = shutdownDeadline();
      // Unref'd: the hook is abandoned at the deadline, and its timer must not keep Jest waiting.
      await new Promise((resolve) => setTimeout(resolve, 5_000).unref());
    });
    const started = Date.now();
    await shutdownService(app, { timeoutMs: 1_000 });
    const took = Date.now() - started;
    await stuck;
    // The request was cut at half the budget, and the slow hook at the end of it (it used to get 1 s of its own).
    expect(hookStarted - started).toBeGreaterThanOrEqual(450);
    expect(hookStarted - started).toBeLessThan(900);
    expect(took).toBeLessThan(1_600);
    expect(deadlineSeen).toBeGreaterThanOrEqual(started + 1_000);
    expect(deadlineSeen).toBeLessThan(started + 1_100);
    expect(shutdownDeadline()).toBeUndefined();
  });

  it('reports not ready once shutting down', async () => {
    expect((await request(app.getHttpServer()).get('/health/ready')).status).toBe(200);
    app.get(HealthRegistry).markShuttingDown();
    const res = await request(app.getHttpServer()).get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ shuttingDown: true, detail: 'The service is shutting down' });
    await shutdownService(app, { timeoutMs: 1_000 });
  });
});
