import type { INestApplication } from '@nestjs/common';
import { MessagingHealth } from '@tessera/messaging';
import { pingDatabase } from '@tessera/persistence';
import { bootstrapService, HealthRegistry } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import type { CatalogConfig } from './config';

export interface StartCatalogOptions {
  config: CatalogConfig;
  databaseUrl?: string;
  handleSignals?: boolean;
  logDestination?: DestinationStream;
}

/** Boots the catalog service listening on `config.PORT`; main.ts and the tests share this wiring. */
export function startCatalog(options: StartCatalogOptions): Promise<INestApplication> {
  const { config } = options;
  return bootstrapService({
    name: 'catalog',
    module: AppModule.forRoot({ databaseUrl: options.databaseUrl }),
    port: config.PORT,
    config,
    openapi: { title: 'Tessera catalog', description: 'Products, variants and catalog search' },
    handleSignals: options.handleSignals,
    logDestination: options.logDestination,
    configure: (app) => {
      const health = app.get(HealthRegistry);
      const dataSource = app.get(DataSource);
      const messaging = app.get(MessagingHealth);
      health.registerReadinessCheck('database', () => pingDatabase(dataSource));
      health.registerReadinessCheck('messaging', async () => {
        await messaging.check();
      });
    },
  });
}
