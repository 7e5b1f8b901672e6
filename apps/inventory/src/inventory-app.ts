import type { INestApplication } from '@nestjs/common';
import { EventsServer, MessagingHealth, type EventTransport } from '@tessera/messaging';
import { pingDatabase } from '@tessera/persistence';
import { bootstrapService, HealthRegistry } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import type { InventoryConfig } from './config';

export interface StartInventoryOptions {
  config: InventoryConfig;
  databaseUrl?: string;
  transport?: EventTransport;
  /** Consume the orders events (default true). */
  consumeEvents?: boolean;
  handleSignals?: boolean;
  logDestination?: DestinationStream;
}

/** Boots the inventory service listening on `config.PORT`; main.ts and the tests share this wiring. */
export function startInventory(options: StartInventoryOptions): Promise<INestApplication> {
  const { config } = options;
  return bootstrapService({
    name: 'inventory',
    module: AppModule.forRoot({ config, databaseUrl: options.databaseUrl, transport: options.transport }),
    port: config.PORT,
    config,
    openapi: { title: 'Tessera inventory', description: 'Locations, stock levels, movements, ledger and reservations' },
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
      if (options.consumeEvents ?? true) {
        app.connectMicroservice({ strategy: app.get(EventsServer) });
        await app.startAllMicroservices();
      }
    },
  });
}
