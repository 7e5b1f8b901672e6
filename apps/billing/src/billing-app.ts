import type { INestApplication } from '@nestjs/common';
import { wireDataAndEvents } from '@tessera/messaging';
import { bootstrapService } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { AppModule, type BillingModuleOptions } from './app.module';
import type { BillingConfig } from './config';

export interface StartBillingOptions extends BillingModuleOptions {
  config: BillingConfig;
  handleSignals?: boolean;
  logDestination?: DestinationStream;
}

/** Boots billing on `config.PORT` with its orders-event consumers; main.ts and the tests share this wiring. */
export function startBilling(options: StartBillingOptions): Promise<INestApplication> {
  const { config } = options;
  return bootstrapService({
    name: 'billing',
    module: AppModule.forRoot({ databaseUrl: options.databaseUrl, messaging: options.messaging }),
    port: config.PORT,
    config,
    openapi: { title: 'Tessera billing', description: 'Payments of orders: opened by the saga, confirmed or failed by staff' },
    handleSignals: options.handleSignals,
    logDestination: options.logDestination,
    // Consumes `tessera.orders.events` as group `billing` through the @EventPattern handlers.
    configure: (app) => wireDataAndEvents(app),
  });
}
