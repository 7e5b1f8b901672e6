import type { INestApplication } from '@nestjs/common';
import { type EventTransport, wireDataAndEvents } from '@tessera/messaging';
import { bootstrapService } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import type { CatalogConfig } from './config';

export interface StartCatalogOptions {
  config: CatalogConfig;
  databaseUrl?: string;
  transport?: EventTransport;
  /** Consume identity's events into the read model (default true); tests pass false and drive the handler. */
  consumeEvents?: boolean;
  handleSignals?: boolean;
  logDestination?: DestinationStream;
}

/** Boots the catalog service listening on `config.PORT`; main.ts and the tests share this wiring. */
export function startCatalog(options: StartCatalogOptions): Promise<INestApplication> {
  const { config } = options;
  return bootstrapService({
    name: 'catalog',
    module: AppModule.forRoot({ databaseUrl: options.databaseUrl, transport: options.transport }),
    port: config.PORT,
    config,
    openapi: { title: 'Tessera catalog', description: 'Products, variants and catalog search' },
    handleSignals: options.handleSignals,
    logDestination: options.logDestination,
    configure: (app) => wireDataAndEvents(app, { consumeEvents: options.consumeEvents }),
  });
}
