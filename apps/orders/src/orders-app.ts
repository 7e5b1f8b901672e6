import type { INestApplication } from '@nestjs/common';
import { type EventTransport, wireDataAndEvents } from '@tessera/messaging';
import { bootstrapService } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import type { OrdersConfig } from './config';

export interface StartOrdersOptions {
  config: OrdersConfig;
  databaseUrl?: string;
  transport?: EventTransport;
  /** Consume catalog, inventory and billing events (default true; tests that drive handlers directly pass false). */
  consumeEvents?: boolean;
  handleSignals?: boolean;
  logDestination?: DestinationStream;
}

/** Boots the orders service listening on `config.PORT`; main.ts and the tests share this wiring. */
export function startOrders(options: StartOrdersOptions): Promise<INestApplication> {
  const { config } = options;
  return bootstrapService({
    name: 'orders',
    module: AppModule.forRoot({ databaseUrl: options.databaseUrl, transport: options.transport }),
    port: config.PORT,
    config,
    openapi: { title: 'Tessera orders', description: 'Orders, their state machine and history' },
    handleSignals: options.handleSignals,
    logDestination: options.logDestination,
    configure: (app) => wireDataAndEvents(app, { consumeEvents: options.consumeEvents }),
  });
}
