import { randomUUID } from 'node:crypto';
import { CONTEXT_HEADER, REQUEST_ID_HEADER, type CallerContext } from '@tessera/contracts';
import { addressBucket, callerLogBindings, newTraceparent, requestIdFor, TRACEPARENT_HEADER, validTraceparent } from '@tessera/service-kit';
import type { Authenticator } from '../auth/authenticator';
import type { ServiceContextSigner } from '../auth/caller-context-signer';
import { isCredentialRoute } from '../auth/public-routes';
import type { ExpressRequest as Request, ExpressResponse as Response, NextFunction } from '../http/express-types';
import { GatewayError, sendProblem } from '../http/problem';
import type { RateLimit, RateLimits } from '../rate-limit/rate-limiter';
import { stripHopByHop } from './hop-by-hop';
import { findUpstream, type Upstream } from './route-table';
import type { UpstreamProxy } from './upstream-proxy';

/** What the pipeline learnt about a request, kept on it for the request log. */
export interface GatewayRequestInfo {
  requestId: string;
  upstream?: string;
  caller?: CallerContext;
}

export type GatewayRequest = Request & { gateway?: GatewayRequestInfo };

// Health answers orchestrators and load balancers: never rate-limited, never proxied. (Metrics have a port of their own.)
const OPERATIONAL = /^\/health(\/|$)/;
// Client credentials and forged contexts stop here; services trust only the context the gateway signs.
const STRIPPED_HEADERS = [CONTEXT_HEADER, 'authorization', 'proxy-authorization', 'x-api-key', 'forwarded', 'x-forwarded-host', 'x-real-ip'];

/**
 * The gateway's request pipeline, run before Nest's routes: request id → address limits → route lookup →
 * authentication → tenant limit → signed caller context → proxy. Requests for no upstream fall through to
 * the gateway's own routes (OpenAPI, docs) or the 404 handler.
 */
export class GatewayPipeline {
  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly authenticator: Authenticator,
    private readonly limits: RateLimits,
    private readonly signContext: ServiceContextSigner,
    private readonly proxy: UpstreamProxy,
  ) {}

  /** Express middleware; never rejects. */
  readonly handle = (req: GatewayRequest, res: Response, next: NextFunction): void => {
    // The request logger (pino-http) has settled the id already, with this same requestIdFor, when it runs first.
    const requestId = typeof req.id === 'string' ? req.id : requestIdFor(req, res);
    req.headers[REQUEST_ID_HEADER] = requestId;
    req.gateway = { requestId };
    res.setHeader(REQUEST_ID_HEADER, requestId);
    this.run(req, res, next).catch((error: unknown) => {
      if (error instanceof GatewayError) {
        sendProblem(res, error.problem, req.path, requestId);
        return;
      }
      // Proxied requests never reach Nest's filter, so unexpected errors are answered here, like the kit does.
      const errorId = randomUUID();
      req.log?.error({ err: error, errorId }, 'Unhandled gateway error');
      sendProblem(res, { status: 500, detail: 'An unexpected error occurred', errorId }, req.path, requestId);
    });
  };

  private async run(req: GatewayRequest, res: Response, next: NextFunction): Promise<void> {
    const path = req.path;
    if (OPERATIONAL.test(path)) return next();
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // Limits count an IPv6 client by its /64: it may send from any address in it.
    const bucket = addressBucket(address);
    await this.limit(res, this.limits.address, bucket);
    // Before any decision made from the path: what is classified here must be what the service receives.
    checkPath(req.originalUrl);
    const method = req.method ?? 'GET';
    if (isCredentialRoute(method, path)) await this.limit(res, this.limits.credentials, bucket);

    const upstream = findUpstream(this.upstreams, path);
    if (!upstream) return next();
    const caller = await this.authenticator.authenticate({
      method,
      path,
      headers: req.headers,
      requestId: req.gateway?.requestId ?? '',
    });
    if (caller.tenantId) await this.limit(res, this.limits.tenant, caller.tenantId);
    req.gateway = { requestId: caller.requestId, upstream: upstream.name, caller };
    req.log?.setBindings({ ...callerLogBindings(caller), upstream: upstream.name });

    // Before the gateway's own headers are set, so that a `Connection` naming one of them cannot remove it. Left in,
    // a client's `Connection: close` would also close the pooled upstream connection after every request.
    stripHopByHop(req.headers);
    for (const header of STRIPPED_HEADERS) delete req.headers[header];
    req.headers[REQUEST_ID_HEADER] = caller.requestId;
    req.headers[CONTEXT_HEADER] = await this.signContext(caller, upstream.name);
    req.headers['x-forwarded-for'] = address;
    req.headers['x-forwarded-proto'] = req.protocol;
    if (req.headers.host) req.headers['x-forwarded-host'] = req.headers.host;
    // Every request reaches services in a trace: the client's, or a new one (a malformed traceparent is replaced,
    // and its tracestate, which belongs to it, goes too).
    if (!validTraceparent(req.headers[TRACEPARENT_HEADER])) {
      req.headers[TRACEPARENT_HEADER] = newTraceparent();
      delete req.headers['tracestate'];
    }
    req.log?.setBindings({ traceparent: req.headers[TRACEPARENT_HEADER] });
    this.proxy.forward(upstream, req, res);
  }

  private async limit(res: Response, limit: RateLimit, key: string): Promise<void> {
    const headers = await limit.consume(key);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  }
}

/**
 * Refuses paths that upstream routers might read differently from us: dot segments and encoded slashes could
 * climb out of a routed prefix, doubled slashes slip past the rules for a route, and `/internal` is
 * service-to-service only (404, as if it did not exist).
 */
function checkPath(url: string): void {
  // Absolute-form targets (`GET http://host/path`) are routed by their path too.
  const rawPath = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split('?')[0];
  if (/%2f|%5c|\\/i.test(rawPath)) throw new GatewayError({ status: 400, detail: 'Encoded slashes are not allowed in paths' });
  let segments: string[];
  try {
    segments = rawPath.split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    throw new GatewayError({ status: 400, detail: 'Malformed percent-encoding in path' });
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new GatewayError({ status: 400, detail: 'Dot segments are not allowed in paths' });
  }
  // `//` would reach the service as `/` (the proxy collapses slashes) while the rate limits and public-route rules
  // here saw another path. Only the leading slash and one trailing slash leave an empty segment.
  if (segments.slice(1, -1).some((segment) => segment === '')) {
    throw new GatewayError({ status: 400, detail: 'Empty path segments (//) are not allowed in paths' });
  }
  // http-proxy joins the target and the path with a rule that turns the first `http:/` or `https:/` in the path into
  // `http://`: the service would receive a `//` this check never saw.
  if (/https?:\//i.test(rawPath)) throw new GatewayError({ status: 400, detail: 'A URL scheme (http:/) is not allowed inside paths' });
  if (segments[1]?.toLowerCase() === 'internal') throw new GatewayError({ status: 404, title: 'Not Found' });
}
