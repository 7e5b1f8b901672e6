import type { INestApplication } from '@nestjs/common';
import { HealthRegistry } from '@tessera/service-kit';
import type { ExpressRequest as Request, ExpressResponse as Response } from '../http/express-types';
import { sendProblem } from '../http/problem';
import type { Upstream } from '../proxy/route-table';
import { probeUpstreams } from './upstream-health';

const PROBE_REUSE_MS = 1_000;

/**
 * `/health/ready` for the gateway, registered ahead of the kit's route: ready means the gateway takes traffic
 * (it is not shutting down). Upstream reachability is reported for information only, since a service that is
 * down gets 503 per request and must not take the whole public port out of a load balancer.
 */
export function serveGatewayReadiness(app: INestApplication, upstreams: readonly Upstream[]): void {
  const health = app.get(HealthRegistry);
  // Health is never rate-limited, so one probe of the upstreams serves every readiness call of the next second
  // (and the calls that arrive while it runs): anonymous callers cannot multiply requests to the services through it.
  let probe: { at: number; result: Promise<Record<string, unknown>> } | undefined;
  const reachability = (): Promise<Record<string, unknown>> => {
    if (!probe || Date.now() - probe.at > PROBE_REUSE_MS) probe = { at: Date.now(), result: probeUpstreams(upstreams).catch(() => ({})) };
    return probe.result;
  };
  app.getHttpAdapter().get('/health/ready', (req: Request, res: Response) => {
    if (health.isShuttingDown) {
      sendProblem(res, { status: 503, detail: 'The gateway is shutting down' }, req.path, String(req.id ?? ''));
      return;
    }
    void reachability().then((upstreamStatus) => res.json({ status: 'ok', upstreams: upstreamStatus }));
  });
}
