import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { FakeIdentity } from './fake-identity';
import { closedPort, json } from './fake-upstream';
import { HealthRegistry, shutdownService } from '@tessera/service-kit';
import { startMetricsServer } from '../src/metrics-server';
import { expectProblem as expectProblemAnswer, startGateway, testConfig } from './gateway-harness';

/** Routing, failure handling and limits of the proxy, against real local upstreams. */
describe('gateway proxy', () => {
  let identity: FakeIdentity;
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;
  let token: string;
  let downPort: number;
  let hanging = 0;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    identity.route('GET', '/v1/users/slow', (_req, res) => {
      const timer = setTimeout(() => json(res, 200, { late: true }), 3_000);
      res.on('close', () => clearTimeout(timer));
    });
    // A service that never answers, counting the requests it holds open.
    identity.route('GET', '/v1/users/hang', (_req, res) => {
      hanging += 1;
      res.on('close', () => (hanging -= 1));
    });
    // A service that accepts the request and then drops the connection without a word (a crash mid-request).
    identity.route('GET', '/v1/users/crash', (_req, res) => {
      res.socket?.destroy();
    });
    downPort = await closedPort();
    const config = testConfig(identity.url, { bodyLimitBytes: 1024 });
    config.upstreams[0] = { ...config.upstreams[0], timeoutMs: 300 };
    config.upstreams.push({ name: 'catalog', url: `http://127.0.0.1:${downPort}`, prefixes: ['/v1/products'] });
    app = await startGateway(config);
    http = request(app.getHttpServer());
    token = await identity.token();
  });

  afterAll(async () => {
    await app.close();
    await identity.stop();
  });

  beforeEach(() => identity.requests.splice(0));

  /** A problem that also carries the request id the gateway answered with. */
  const expectProblem = (res: request.Response, status: number) => {
    expectProblemAnswer(res, status);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  };

  it('answers 404 problem+json for a route no service owns', async () => {
    const res = await http.get('/v1/nothing-here').set('authorization', `Bearer ${token}`);
    expectProblem(res, 404);
    expect(res.body.code).toBe('not_found');
  });

  it('hides /internal routes from outside, whatever the case or credentials', async () => {
    for (const path of ['/internal/api-keys/verify', '/INTERNAL/api-keys/verify', '/internal']) {
      const res = await http.post(path).set('authorization', `Bearer ${token}`).send({ key: 'tsk_x' });
      expectProblem(res, 404);
    }
    expect(identity.received('/internal')).toHaveLength(0);
  });

  it('refuses dot segments, encoded slashes and doubled slashes that could climb out of a routed prefix or past its rules', async () => {
    for (const path of ['/v1/users/%2e%2e/%2e%2e/internal/api-keys/verify', '/v1/users%2f..%2finternal', '/v1/users//', '//v1/users', '/v1//users/x', '/v1/users/http:/x', '/v1/users/a/HTTPS:/b']) {
      const res = await http.get(path).set('authorization', `Bearer ${token}`);
      expectProblem(res, 400);
    }
    expect(identity.requests).toHaveLength(0);
  });

  it('answers 413 for a body over the limit, declared (never forwarded) or chunked (cut off mid-stream)', async () => {
    const declared = await http
      .post('/v1/users')
      .set('authorization', `Bearer ${token}`)
      .set('content-type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(2000) }));
    expectProblem(declared, 413);
    expect(identity.received('/v1/users')).toHaveLength(0);

    const chunked = await new Promise<{ status?: number; type?: string }>((resolve, reject) => {
      const address = app.getHttpServer().address() as { port: number };
      const req = httpRequest(
        { host: '127.0.0.1', port: address.port, method: 'POST', path: '/v1/users', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode, type: res.headers['content-type'] });
        },
      );
      req.on('error', reject);
      req.write('['.padEnd(800, ' '));
      setTimeout(() => req.end(']'.padStart(800, ' ')), 50);
    });
    expect(chunked.status).toBe(413);
    expect(chunked.type).toMatch(/^application\/problem\+json/);
    expect(identity.received('/v1/users')).toHaveLength(0);
  });

  it('abandons the upstream request of a refused chunked body also when the client sent Expect: 100-continue', async () => {
    const abortedBefore = identity.aborted;
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const address = app.getHttpServer().address() as { port: number };
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: address.port,
          method: 'POST',
          path: '/v1/users',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', expect: '100-continue' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode);
          // This client never finishes its body: hang up so the gateway can close.
          req.destroy();
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
      req.on('continue', () => {
        req.write('['.padEnd(800, ' '));
        // The rest never comes: the gateway must still let go of the upstream request, not leave it waiting.
        setTimeout(() => req.write(' '.repeat(800)), 50);
      });
    });
    expect(status).toBe(413);
    const deadline = Date.now() + 3_000;
    while (identity.aborted === abortedBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(identity.aborted).toBe(abortedBefore + 1);
  });

  it('forwards a body under the limit intact', async () => {
    const body = JSON.stringify({ email: 'new@example.com', name: 'N', role: 'staff', password: 'p' });
    const res = await http.post('/v1/users').set('authorization', `Bearer ${token}`).set('content-type', 'application/json').send(body);
    expect(res.status).toBe(200);
    expect(res.body.body).toBe(body);
    expect(res.body.method).toBe('POST');
  });

  it('forwards no hop-by-hop header (RFC 9110 7.6.1), nor any the client names in Connection, and keeps the others', async () => {
    const body = JSON.stringify({ email: 'hop@example.com' });
    const res = await http
      .post('/v1/users')
      .set('authorization', `Bearer ${token}`)
      .set('connection', 'keep-alive, X-Hop-Secret, x-hop-other')
      .set('keep-alive', 'timeout=30')
      .set('te', 'trailers')
      .set('upgrade', 'websocket')
      .set('proxy-connection', 'keep-alive')
      .set('proxy-authorization', 'Basic cHJveHk6c2VjcmV0')
      .set('x-hop-secret', 'for-the-gateway-only')
      .set('x-hop-other', 'also')
      .set('x-request-id', 'hop-req-1')
      .set('content-type', 'application/json')
      .send(body);
    expect(res.status).toBe(200);
    const [received] = identity.received('/v1/users');
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-connection', 'proxy-authorization', 'x-hop-secret', 'x-hop-other']) {
      expect(received.headers[name]).toBeUndefined();
    }
    // The gateway's own hop: its pooled agent asks to keep the connection, whatever the client said.
    expect(received.headers.connection).toBe('keep-alive');
    expect(received.headers).toMatchObject({ 'x-request-id': 'hop-req-1', 'content-type': 'application/json' });
    expect(received.body).toBe(body);
  });

  it('never lets Connection strip what frames the body or the headers the gateway sets', async () => {
    const body = JSON.stringify({ email: 'framed@example.com' });
    const res = await http
      .post('/v1/users')
      .set('authorization', `Bearer ${token}`)
      .set('connection', 'content-length, host, x-request-id, x-tessera-context, x-forwarded-for, traceparent')
      .set('x-request-id', 'hop-req-2')
      .set('content-type', 'application/json')
      .send(body);
    expect(res.status).toBe(200);
    const [received] = identity.received('/v1/users');
    expect(received.body).toBe(body);
    expect(received.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(received.headers['x-request-id']).toBe('hop-req-2');
    expect(received.headers.host).toBeDefined();
    expect(received.headers['x-tessera-context']).toBeDefined();
    expect(received.headers['x-forwarded-for']).toBeDefined();
    expect(received.headers.traceparent).toMatch(/^00-/);
  });

  it("keeps the pooled upstream connection when clients send Connection: close, and still closes the client's", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await http.get('/v1/users/me/echo').set('authorization', `Bearer ${token}`).set('connection', 'close');
      expect(res.status).toBe(200);
      expect(res.headers.connection).toBe('close');
    }
    const ports = new Set(identity.received('/v1/users/me/echo').map((r) => r.remotePort));
    expect(ports.size).toBe(1);
  });

  it('keeps an idle client connection open for HTTP_KEEP_ALIVE_TIMEOUT_MS (65 s by default), not Node\'s 5 s', async () => {
    const server = app.getHttpServer();
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.headersTimeout).toBeGreaterThan(65_000);
    const res = await http.get('/health/live').set('connection', 'keep-alive');
    expect(res.headers['keep-alive']).toBe('timeout=65');
    // Proxied answers too: the service's own Connection and Keep-Alive (its 5 s) describe its connection, not this one.
    const proxied = await http.get('/v1/users/me/echo').set('authorization', `Bearer ${token}`).set('connection', 'keep-alive');
    expect(proxied.status).toBe(200);
    expect(proxied.headers).toMatchObject({ connection: 'keep-alive', 'keep-alive': 'timeout=65' });
  });

  it('keeps an HTTP/1.0 client\'s keep-alive connection on proxied answers, as on its own', async () => {
    const port = (app.getHttpServer().address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const ask = async () => {
      received = '';
      socket.write(`GET /v1/users/me/echo HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      for (let i = 0; i < 200 && !/\r\n\r\n[\s\S]*\}$/.test(received); i++) await new Promise((r) => setTimeout(r, 10));
      return received;
    };
    try {
      const first = await ask();
      expect(first).toMatch(/^HTTP\/1\.1 200/);
      expect(first).toMatch(/\r\nconnection: keep-alive\r\n/i);
      expect(first).toMatch(/\r\nkeep-alive: timeout=65\r\n/i);
      // The same connection answers again.
      expect(await ask()).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      socket.destroy();
    }
  });

  it('answers proxied requests with Connection: close once the gateway is shutting down', async () => {
    const gateway = await startGateway(testConfig(identity.url));
    const port = (gateway.getHttpServer().address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const echo = () =>
      new Promise<{ status: number; connection?: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/users/me/echo', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await echo()).toEqual({ status: 200, connection: 'keep-alive' });
      const shutdown = shutdownService(gateway, { timeoutMs: 5_000 });
      // On the connection that was open, within the drain's first second: answered, and told to close.
      expect(await echo()).toEqual({ status: 200, connection: 'close' });
      await shutdown;
    } finally {
      agent.destroy();
      await gateway.close().catch(() => undefined);
    }
  });

  it("abandons the upstream call when the client hangs up, so hang-ups cannot use up the service's connections", async () => {
    const port = (app.getHttpServer().address() as { port: number }).port;
    const clients = Array.from({ length: 20 }, () => {
      const req = httpRequest({ port, path: '/v1/users/hang', headers: { authorization: `Bearer ${token}` } });
      req.on('error', () => undefined);
      req.end();
      return req;
    });
    const deadline = Date.now() + 5_000;
    while (hanging < clients.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(hanging).toBe(clients.length);
    for (const req of clients) req.destroy();
    // Well before the 300 ms timeout would have fired (which a hang-up used to cancel, leaving the call open for good).
    const closedBy = Date.now() + 200;
    while (hanging > 0 && Date.now() < closedBy) await new Promise((r) => setTimeout(r, 5));
    expect(hanging).toBe(0);
    // The service still answers through the gateway.
    expect((await http.get('/v1/users/me/echo').set('authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('answers requests Node itself refuses (huge headers, a bad length, an unknown Expect) with problem+json too', async () => {
    const port = (app.getHttpServer().address() as { port: number }).port;
    const raw = (request: string) =>
      new Promise<string>((resolve) => {
        let answer = '';
        const socket = connect(port, '127.0.0.1', () => socket.write(request));
        socket.on('data', (d) => (answer += d.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(answer));
        setTimeout(() => socket.destroy(), 2_000);
      });
    const cases: [string, number][] = [
      [`GET /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n', 400],
      [`GET /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nExpect: foo\r\nConnection: close\r\n\r\n`, 417],
    ];
    for (const [request, status] of cases) {
      const answer = await raw(request);
      const [head, body] = answer.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(head.toLowerCase()).toContain('content-type: application/problem+json');
      expect(JSON.parse(body.includes('{') ? body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1) : '{}')).toMatchObject({ status });
    }
    expect(identity.requests).toHaveLength(0);
    // A client that keeps its side open after the answer does not keep the connection: it is closed, not half closed.
    const server = app.getHttpServer() as import('node:http').Server;
    const open = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    const before = await open();
    const lingering = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => lingering.write('GET /v1/users HTTP/1.1\r\nContent-Length: x\r\n\r\n'));
    lingering.on('error', () => undefined);
    lingering.resume();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const deadline = Date.now() + 2_000;
      while ((await open()) > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await open()).toBeLessThanOrEqual(before);
    } finally {
      lingering.destroy();
    }
  });

  it('answers 504 problem+json when the service is too slow', async () => {
    const started = Date.now();
    const res = await http.get('/v1/users/slow').set('authorization', `Bearer ${token}`);
    expectProblem(res, 504);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('sends every request on in a trace: the client\'s when its traceparent is valid, else a new one without tracestate', async () => {
    const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const echoed = async (headers: Record<string, string>) => {
      let req = http.get('/v1/users/me/echo').set('authorization', `Bearer ${token}`);
      for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
      const res = await req;
      expect(res.status).toBe(200);
      return res.body.headers as Record<string, string>;
    };
    const kept = await echoed({ traceparent: valid, tracestate: 'vendor=abc' });
    expect(kept).toMatchObject({ traceparent: valid, tracestate: 'vendor=abc' });
    const fresh = [await echoed({}), await echoed({ traceparent: 'nonsense', tracestate: 'vendor=abc' })];
    for (const h of fresh) expect(h.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(fresh[0].traceparent).not.toBe(fresh[1].traceparent);
    expect(fresh[1].tracestate).toBeUndefined();
  });

  it('answers 502 problem+json when the service drops the connection without answering', async () => {
    const res = await http.get('/v1/users/crash').set('authorization', `Bearer ${token}`);
    expectProblem(res, 502);
    expect(res.body.detail).toBe('Service identity failed to answer');
    expect(identity.received('/v1/users/crash')).toHaveLength(1);
  });

  it('answers 503 problem+json when the service is down', async () => {
    const res = await http.get('/v1/products').set('authorization', `Bearer ${token}`);
    expectProblem(res, 503);
    expect(res.body.detail).toContain('catalog');
  });

  it('answers 503 problem+json when identity is down for an API key check or the JWKS', async () => {
    const downIdentity = testConfig(`http://127.0.0.1:${downPort}`);
    const other = await startGateway(downIdentity);
    try {
      const byKey = await request(other.getHttpServer()).get('/v1/users').set('x-api-key', 'tsk_live_any');
      expectProblem(byKey, 503);
      const byToken = await request(other.getHttpServer()).get('/v1/users').set('authorization', `Bearer ${token}`);
      expectProblem(byToken, 503);
    } finally {
      await other.close();
    }
  });

  it('reports upstream reachability on /health/ready without failing, and serves /health/live', async () => {
    const ready = await http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', upstreams: { identity: { status: 'up' }, catalog: { status: 'down' } } });
    expect((await http.get('/health/live')).body).toEqual({ status: 'ok' });
  });

  it('answers /health/ready with 503 problem+json once it is shutting down, and /health/live still 200', async () => {
    const draining = await startGateway(testConfig(identity.url));
    try {
      const drainingHttp = request(draining.getHttpServer());
      expect((await drainingHttp.get('/health/ready')).status).toBe(200);
      draining.get(HealthRegistry).markShuttingDown();
      const ready = await drainingHttp.get('/health/ready');
      expectProblem(ready, 503);
      expect(ready.body.detail).toMatch(/shutting down/);
      expect((await drainingHttp.get('/health/live')).status).toBe(200);
    } finally {
      await draining.close();
    }
  });

  it('probes the upstreams once for all the readiness calls of a second', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    const probes = () => identity.received('/health/live').length;
    const before = probes();
    const answers = await Promise.all(Array.from({ length: 10 }, () => http.get('/health/ready')));
    expect(answers.map((a) => a.body.upstreams.identity)).toEqual(Array(10).fill({ status: 'up' }));
    expect(probes()).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 1_100));
    await http.get('/health/ready');
    expect(probes()).toBe(before + 2);
  });

  it('keeps platform metrics off the public port: /metrics there is a 404, with or without credentials', async () => {
    expectProblem(await http.get('/metrics'), 404);
    expectProblem(await http.get('/metrics').set('authorization', `Bearer ${token}`), 404);
  });

  it('serves its metrics on a port of their own, GET /metrics only', async () => {
    await http.get('/v1/users/me/echo').set('authorization', `Bearer ${token}`);
    const { server, port } = await startMetricsServer(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${port}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await metrics.text();
      expect(text).toContain('gateway_upstream_request_duration_seconds');
      expect(text).toMatch(/^http_request_duration_seconds_count\{[^}]*route="upstream:identity"/m);
      expect((await fetch(`${base}/`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${base}/health/live`)).status).toBe(404);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
