import type { INestApplication } from '@nestjs/common';
import { EventsServer, MessagingHealth } from '@tessera/messaging';
import { pingDatabase } from '@tessera/persistence';
import { bootstrapService, HealthRegistry } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
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
    configure: async (app) => {
      const health = app.get(HealthRegistry);
      const dataSource = app.get(DataSource);
      const messaging = app.get(MessagingHealth);
      health.registerReadinessCheck('database', () => pingDatabase(dataSource));
      health.registerReadinessCheck('messaging', async () => {
        await messaging.check();
      });
      // The @EventPattern handlers of OrderEventsController consume `tessera.orders.events` as group `billing`.
      app.connectMicroservice({ strategy: app.get(EventsServer) });
      await app.startAllMicroservices();
    },
  });
}
