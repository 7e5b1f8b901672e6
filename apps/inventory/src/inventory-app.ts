import type { INestApplication } from '@nestjs/common';
import { type EventTransport, wireDataAndEvents } from '@tessera/messaging';
import { bootstrapService } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
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
    configure: (app) => wireDataAndEvents(app, { consumeEvents: options.consumeEvents }),
  });
}
