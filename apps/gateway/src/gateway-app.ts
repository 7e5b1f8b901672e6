import type { Server } from 'node:http';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { httpRequestDuration, metricsRegistry, requestIdFor, ServiceKitModule, StartupQuietLogger, createServiceLogger, trackResponses } from '@tessera/service-kit';
import type { ExpressRequest as Request, ExpressResponse as Response, NextFunction } from './http/express-types';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { collectDefaultMetrics } from 'prom-client';
import { AppModule } from './app.module';
import type { GatewayConfig } from './config';
import { serveGatewayReadiness } from './health/readiness';
import { answerClientErrorsWithProblems } from './http/client-errors';
import { capUnreadBodies } from './http/unread-body';
import { setupGatewayDocs } from './openapi/docs';
import { OpenApiAggregator } from './openapi/openapi-aggregator';
import { GatewayPipeline, type GatewayRequest } from './proxy/gateway-pipeline';

export interface GatewayAppOptions {
  /** Where JSON log lines go (default stdout). */
  logDestination?: DestinationStream;
}

@Module({})
class GatewayRootModule {}

/**
 * Builds the gateway (not yet listening). It boots like a service-kit service but without a body parser:
 * the pipeline streams request bodies to upstreams untouched, so it runs before any route and any parser.
 * Order: request log → metrics → pipeline (limits, auth, proxy) → gateway routes (health, OpenAPI, docs) → 404.
 * `/metrics` is not on this port: see startMetricsServer.
 */
export async function createGatewayApp(config: GatewayConfig, options: GatewayAppOptions = {}): Promise<NestExpressApplication> {
  const logger = createServiceLogger({ service: 'gateway', level: config.logLevel, destination: options.logDestination });
  enableDefaultMetrics();
  const root: DynamicModule = {
    module: GatewayRootModule,
    imports: [ServiceKitModule.forRoot({ logger, trustGatewayContext: false, metricsRoute: false }), AppModule.forRoot(config, logger)],
  };
  const app = await NestFactory.create<NestExpressApplication>(root, new ExpressAdapter(), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(new StartupQuietLogger(app.get(NestPinoLogger)));
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxyHops);

  app.use(createRequestLogger(logger));
  // A refused or unrouted request's body is read within a cap, never for as long as the client cares to send.
  app.use(capUnreadBodies(config.bodyLimitBytes));
  app.use(requestMetrics);
  app.use(app.get(GatewayPipeline).handle);
  serveGatewayReadiness(app, config.upstreams);
  setupGatewayDocs(app, app.get(OpenApiAggregator));
  const server: Server = app.getHttpServer();
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // A request's headers may arrive on a connection that was idle up to keepAliveTimeout: allow a little more.
  server.headersTimeout = Math.max(server.headersTimeout, config.keepAliveTimeoutMs + 1_000);
  answerClientErrorsWithProblems(server);
  // So that a shutdown answers the requests already running with `Connection: close` too.
  trackResponses(server);
  return app;
}

// The kit's request logger, rebuilt because bootstrapService mounts a JSON body parser the gateway must not have
// and the kit does not export its pino-http factory: same request id rule, plus tenant and user once authenticated.
function createRequestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: requestIdFor,
    customProps: (req) => ({ requestId: String(req.id) }),
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return /^\/(health\/|metrics)/.test(req.url ?? '') ? 'debug' : 'info';
    },
  });
}

function requestMetrics(req: GatewayRequest, res: Response, next: NextFunction): void {
  const stop = httpRequestDuration.startTimer();
  res.once('finish', () => {
    const route = req.gateway?.upstream ? `upstream:${req.gateway.upstream}` : routeOf(req);
    stop({ method: req.method ?? 'GET', route, status: String(res.statusCode) });
  });
  next();
}

function routeOf(req: Request): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` || '/' : 'unmatched';
}

let defaultMetricsEnabled = false;
function enableDefaultMetrics(): void {
  metricsRegistry.setDefaultLabels({ service: 'gateway' });
  if (defaultMetricsEnabled) return;
  collectDefaultMetrics({ register: metricsRegistry });
  defaultMetricsEnabled = true;
}
