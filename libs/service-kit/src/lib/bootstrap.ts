import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { StartupQuietLogger } from './logging/startup-quiet-logger';
import type { DestinationStream, Logger } from 'pino';
import { createCallerContextMiddleware } from './caller/caller.middleware';
import { traceContextMiddleware } from './tracing/trace-context';
import { baseConfigSchema, type BaseConfig } from './config/base-config';
import { loadConfig } from './config/load-config';
import { redactConfig } from './config/secrets';
import { HealthRegistry } from './health/health.registry';
import type { KitRequest, KitResponse, NextFunction } from './http-types';
import { createHttpLogger, createServiceLogger } from './logging/http-logger';
import { enableDefaultMetrics, httpMetricsMiddleware } from './metrics/metrics';
import { createOpenApiDocument, serveOpenApiDocument, type OpenApiOptions } from './openapi/openapi';
import { inputGuardMiddleware, jsonOnlyBodyMiddleware } from './problem/input-guard';
import { ServiceKitModule } from './service-kit.module';
import { shutdownService, trackResponses } from './shutdown/shutdown';

export interface BootstrapOptions {
  /** Service name, in every log line and as the `service` metric label. */
  name: string;
  /** The service's root module. */
  module: Type | DynamicModule;
  port: number;
  /** Listen address; all interfaces by default. */
  host?: string;
  openapi?: OpenApiOptions;
  /** Runs before the app starts listening: register readiness checks and shutdown hooks, connect microservices. */
  configure?: (app: INestApplication) => Promise<void> | void;
  /** Require the gateway's caller context on every route (default true; the gateway itself passes false). */
  trustGatewayContext?: boolean;
  /** Parsed configuration; read from the environment with `baseConfigSchema` when omitted. */
  config?: BaseConfig;
  /** Maximum JSON body size (default `1mb`); larger bodies get 413. */
  bodyLimit?: string;
  /** Parse JSON bodies (default true). A proxy such as the gateway passes false to stream bodies through. */
  parseJsonBody?: boolean;
  /** Where JSON log lines go (default stdout). */
  logDestination?: DestinationStream;
  /** Install SIGTERM/SIGINT handlers that shut down gracefully and exit (default true; tests pass false). */
  handleSignals?: boolean;
}

@Module({})
class ServiceRootModule {}

/**
 * Boots a NestJS service on Express with everything the platform expects (see the README), listens on
 * `port`, and returns the running application.
 */
export async function bootstrapService(options: BootstrapOptions): Promise<INestApplication> {
  const config = options.config ?? loadConfig(baseConfigSchema);
  const trustGatewayContext = options.trustGatewayContext ?? true;
  const logger = createServiceLogger({
    service: options.name,
    level: config.LOG_LEVEL,
    destination: options.logDestination,
  });
  enableDefaultMetrics(options.name);

  const root: DynamicModule = {
    module: ServiceRootModule,
    imports: [ServiceKitModule.forRoot({ logger, trustGatewayContext }), options.module],
  };
  const app = await NestFactory.create<NestExpressApplication>(root, new ExpressAdapter(), {
    bufferLogs: true,
    // The JSON parser is mounted below, after request logging and metrics, so that its 400/413 are counted.
    bodyParser: false,
  });
  app.useLogger(new StartupQuietLogger(app.get(NestPinoLogger)));
  app.disable('x-powered-by');

  const health = app.get(HealthRegistry);
  app.use(createHttpLogger(logger));
  app.use(httpMetricsMiddleware);
  app.use((_req: KitRequest, res: KitResponse, next: NextFunction) => {
    // While draining, tell keep-alive clients to open their next request elsewhere.
    if (health.isShuttingDown) res.setHeader('connection', 'close');
    next();
  });
  if (options.parseJsonBody ?? true) {
    app.useBodyParser('json', { limit: options.bodyLimit ?? '1mb', type: ['application/json', 'application/*+json'] });
    app.use(jsonOnlyBodyMiddleware);
  }
  app.use(inputGuardMiddleware);
  app.use(traceContextMiddleware);
  if (trustGatewayContext) app.use(createCallerContextMiddleware(config.INTERNAL_TOKEN_SECRET));

  await options.configure?.(app);
  // Registered before init, so the route comes ahead of Nest's not-found handler.
  if (options.openapi) serveOpenApiDocument(app, createOpenApiDocument(app, options.openapi));

  trackResponses(app.getHttpServer() as Server);
  const host = options.host ?? config.HOST;
  if (host) await app.listen(options.port, host);
  else await app.listen(options.port);
  const address = app.getHttpServer().address() as AddressInfo;
  logger.info({ port: address.port, config: redactConfig(config, baseConfigSchema) }, `${options.name} listening`);

  if (options.handleSignals ?? true) installSignalHandlers(app, config.SHUTDOWN_TIMEOUT_MS, logger);
  return app;
}

/**
 * SIGTERM and SIGINT shut `app` down gracefully (shutdownService), then end the process: 0 when the shutdown
 * finished, 1 when it failed. For apps that do not boot through bootstrapService (the gateway).
 */
export function installSignalHandlers(app: INestApplication, timeoutMs: number, logger: Pick<Logger, 'flush' | 'fatal'>): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    shutdownService(app, { timeoutMs, signal }).then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.fatal({ err: error }, 'Shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  // `once`: a second signal falls through to Node's default and ends the process at once.
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
