import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { CallerGuard } from './caller/caller.guard';
import { HealthController } from './health/health.controller';
import { HealthRegistry } from './health/health.registry';
import { MetricsController } from './metrics/metrics.controller';
import { ProblemFilter } from './problem/problem.filter';
import { createValidationPipe } from './problem/validation';
import { ShutdownRegistry } from './shutdown/shutdown.registry';

export interface ServiceKitModuleOptions {
  /** The root logger; its pino-http middleware is mounted by `bootstrapService`, ahead of the body parser. */
  logger: Logger;
  /** Require a verified caller context on every route but health and metrics. */
  trustGatewayContext: boolean;
  /**
   * Serve `/metrics` on the app's port (default true: a service's port is internal). The gateway's port is public,
   * so it serves its metrics on a port of their own instead.
   */
  metricsRoute?: boolean;
}

/**
 * The Nest side of the kit: pino logging, validation pipe, problem+json filter, caller guard, health and metrics
 * routes, and the health and shutdown registries (global, so any provider can inject them).
 */
@Global()
@Module({})
export class ServiceKitModule {
  static forRoot(options: ServiceKitModuleOptions): DynamicModule {
    const providers: Provider[] = [
      HealthRegistry,
      ShutdownRegistry,
      { provide: APP_PIPE, useFactory: createValidationPipe },
      { provide: APP_FILTER, useClass: ProblemFilter },
    ];
    if (options.trustGatewayContext) providers.push({ provide: APP_GUARD, useClass: CallerGuard });
    return {
      module: ServiceKitModule,
      // useExisting: the request logger is the pino-http one bootstrapService mounts first, so that requests
      // refused before routing (413, malformed JSON) are logged too.
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: options.logger }, useExisting: true })],
      controllers: options.metricsRoute === false ? [HealthController] : [HealthController, MetricsController],
      providers,
      exports: [HealthRegistry, ShutdownRegistry],
    };
  }
}
