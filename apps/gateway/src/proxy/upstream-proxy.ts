import { Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyMiddleware, debugProxyErrorsPlugin, type Plugin, type RequestHandler } from 'http-proxy-middleware';
import { metricsRegistry } from '@tessera/service-kit';
import { Histogram } from 'prom-client';
import { sendProblem, type GatewayProblem } from '../http/problem';
import { stripHopByHop } from './hop-by-hop';
import type { Upstream } from './route-table';

export interface UpstreamProxyOptions {
  /** Time to wait for response headers before answering 504, for upstreams that set none. */
  timeoutMs: number;
  /** Largest request body forwarded; larger ones get 413. */
  bodyLimitBytes: number;
  /** The gateway's own idle timeout for client connections, advertised in `Keep-Alive` on proxied answers. */
  keepAliveTimeoutMs?: number;
  /** Told about each failed forward (after the problem is written). */
  onFailure?: (req: IncomingMessage, upstream: string, problem: GatewayProblem, error?: Error) => void;
}

// Proxied requests match no Nest route, so the kit's HTTP histogram labels them "unmatched": this one says where they went.
const upstreamRequestDuration = new Histogram({
  name: 'gateway_upstream_request_duration_seconds',
  help: 'Duration of requests forwarded by the gateway, by upstream, method and status (including gateway-made 5xx)',
  labelNames: ['upstream', 'method', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

/** Per-request bookkeeping shared by the proxy event handlers. */
interface Exchange {
  upstream: string;
  timeoutMs: number;
  /** Set once the gateway has answered itself (timeout, oversized body): the upstream's late answer is dropped. */
  settled: boolean;
  timer?: NodeJS.Timeout;
  proxyReq?: ClientRequest;
}

// Errors meaning nothing listens at the upstream address: the service is down or not started yet.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);


/**
 * Streams requests to upstream services with http-proxy-middleware (bodies are piped, never parsed).
 * Every failure becomes a problem+json answer: 503 when the service is down, 502 when it breaks the
 * exchange, 504 when it is too slow, 413 when the body is too large. Nothing hangs.
 */
export class UpstreamProxy {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly agents: Agent[] = [];
  private readonly exchanges = new WeakMap<IncomingMessage, Exchange>();

  constructor(
    upstreams: readonly Upstream[],
    private readonly options: UpstreamProxyOptions,
  ) {
    for (const upstream of upstreams) {
      // Without an agent http-proxy sends `Connection: close` and opens a connection per request. Idle sockets are
      // dropped after 4 s, before Node servers' 5 s keep-alive timeout, so a reused socket is rarely closed under us.
      const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });
      this.agents.push(agent);
      this.handlers.set(
        upstream.name,
        createProxyMiddleware({
          target: upstream.url,
          agent,
          changeOrigin: true,
          // The caller sets X-Forwarded-* itself so a client cannot spoof them.
          xfwd: false,
          // Our plugins replace the defaults, which would answer errors in plain text.
          ejectPlugins: true,
          plugins: [debugProxyErrorsPlugin, this.exchangePlugin()],
        }),
      );
    }
  }

  /** Nest lifecycle hook: closes the pooled upstream connections. */
  onModuleDestroy(): void {
    for (const agent of this.agents) agent.destroy();
  }

  /** Forwards the request as it is (headers already prepared by the caller). */
  forward(upstream: Upstream, req: IncomingMessage, res: ServerResponse): void {
    const handler = this.handlers.get(upstream.name);
    if (!handler) throw new Error(`No proxy for upstream ${upstream.name}`);
    const declaredLength = Number(req.headers['content-length'] ?? 0);
    if (declaredLength > this.options.bodyLimitBytes) {
      this.fail(req, res, upstream.name, this.tooLarge());
      return;
    }
    // Node answered the client's `Expect: 100-continue` already. Forwarded, it would also make http-proxy skip its
    // proxyReq event, and without that request in hand a 413 or 504 could not abandon the upstream call, which
    // would then hold one of the upstream's sockets until the service's own request timeout.
    delete req.headers.expect;
    const exchange: Exchange = { upstream: upstream.name, timeoutMs: upstream.timeoutMs ?? this.options.timeoutMs, settled: false };
    this.exchanges.set(req, exchange);
    const stopTimer = upstreamRequestDuration.startTimer({ upstream: upstream.name, method: req.method ?? 'GET' });
    res.once('finish', () => stopTimer({ status: String(res.statusCode) }));
    res.once('close', () => {
      clearTimeout(exchange.timer);
      // The client left before its answer was complete: abandon the upstream call. Left running, it would hold one
      // of the upstream's pooled sockets until the service answered, however long that took, and enough hang-ups
      // would leave none for anyone else.
      if (!res.writableFinished && !exchange.settled) {
        exchange.settled = true;
        exchange.proxyReq?.destroy();
      }
    });
    handler(req, res).catch((error: Error) => this.onError(error, req, res));
  }

  private exchangePlugin(): Plugin {
    return (proxyServer) => {
      proxyServer.on('start', (req) => this.onStart(req));
      proxyServer.on('proxyReq', (proxyReq, req) => {
        const exchange = this.exchanges.get(req);
        if (!exchange) return;
        exchange.proxyReq = proxyReq;
        if (exchange.settled) proxyReq.destroy();
      });
      proxyServer.on('proxyRes', (proxyRes, req, res) => {
        this.connectionHeaders(proxyRes, req, res);
        const exchange = this.exchanges.get(req);
        if (!exchange) return;
        clearTimeout(exchange.timer);
        if (exchange.settled) proxyRes.destroy();
      });
      proxyServer.on('error', (error, req, res) => this.onError(error, req, res));
    };
  }

  /**
   * The upstream's `Connection` and `Keep-Alive` describe its connection to the gateway, not the client's. Without a
   * `Connection` here, http-proxy would copy the client's, which the pipeline has stripped, and answer `keep-alive`
   * to a client that asked to close; an explicit one also stops Node adding its own, hence our `Keep-Alive` too.
   */
  private connectionHeaders(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    stripHopByHop(proxyRes.headers);
    const connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
    proxyRes.headers.connection = connection;
    // http-proxy answers an HTTP/1.0 client with the request's own `Connection` (or `close`) after this event, and
    // the pipeline has stripped that header: give it the same answer to copy.
    if (req.httpVersion === '1.0') req.headers.connection = connection;
    const seconds = Math.floor((this.options.keepAliveTimeoutMs ?? 0) / 1000);
    if (connection === 'keep-alive' && seconds > 0) proxyRes.headers['keep-alive'] = `timeout=${seconds}`;
  }

  /** Runs right before http-proxy pipes the body, in the same tick, so no chunk escapes the counter. */
  private onStart(req: IncomingMessage): void {
    const exchange = this.exchanges.get(req);
    if (!exchange) return;
    exchange.timer = setTimeout(() => {
      this.settle(req, exchange, {
        status: 504,
        title: 'Gateway Timeout',
        detail: `Service ${exchange.upstream} did not answer within ${exchange.timeoutMs} ms`,
      });
    }, exchange.timeoutMs);
    if (req.headers['content-length'] !== undefined) return;
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > this.options.bodyLimitBytes && !exchange.settled) {
        req.unpipe();
        this.settle(req, exchange, this.tooLarge());
      }
    });
  }

  /** The gateway answers in the upstream's place and abandons the upstream request. */
  private settle(req: IncomingMessage, exchange: Exchange, problem: GatewayProblem): void {
    if (exchange.settled) return;
    exchange.settled = true;
    clearTimeout(exchange.timer);
    exchange.proxyReq?.destroy();
    const res = responseOf(req);
    if (res) this.fail(req, res, exchange.upstream, problem);
  }

  private onError(error: Error, req: IncomingMessage, res: ServerResponse | Socket): void {
    const exchange = this.exchanges.get(req);
    if (exchange) clearTimeout(exchange.timer);
    if (exchange?.settled || !isResponse(res)) return;
    if (exchange) exchange.settled = true;
    const upstream = exchange?.upstream ?? 'upstream';
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const problem: GatewayProblem = UNAVAILABLE_CODES.has(code)
      ? { status: 503, title: 'Service Unavailable', detail: `Service ${upstream} is unavailable`, headers: { 'retry-after': '5' } }
      : { status: 502, title: 'Bad Gateway', detail: `Service ${upstream} failed to answer` };
    if (res.headersSent) {
      // The upstream died mid-response: the status is gone, so cut the response for the client to see.
      res.destroy(error);
      this.options.onFailure?.(req, upstream, problem, error);
      return;
    }
    this.fail(req, res, upstream, problem, error);
  }

  private fail(req: IncomingMessage, res: ServerResponse, upstream: string, problem: GatewayProblem, error?: Error): void {
    sendProblem(res, problem, pathOf(req), headerValue(req.headers['x-request-id']));
    this.options.onFailure?.(req, upstream, problem, error);
  }

  private tooLarge(): GatewayProblem {
    return {
      status: 413,
      title: 'Content Too Large',
      detail: `Request body exceeds ${this.options.bodyLimitBytes} bytes`,
    };
  }
}

function isResponse(res: ServerResponse | Socket): res is ServerResponse {
  return typeof (res as ServerResponse).setHeader === 'function';
}

// Express keeps the response on the request; plain Node does not, hence the optional lookup.
function responseOf(req: IncomingMessage): ServerResponse | undefined {
  return (req as IncomingMessage & { res?: ServerResponse }).res;
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0];
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
