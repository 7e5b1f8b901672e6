import type { INestApplication } from '@nestjs/common';
import { wireDataAndEvents } from '@tessera/messaging';
import { bootstrapService } from '@tessera/service-kit';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import type { IdentityConfig } from './config';

export interface StartIdentityOptions {
  config: IdentityConfig;
  databaseUrl?: string;
  handleSignals?: boolean;
  logDestination?: DestinationStream;
}

/** Boots the identity service listening on `config.PORT`; main.ts and the tests share this wiring. */
export function startIdentity(options: StartIdentityOptions): Promise<INestApplication> {
  const { config } = options;
  return bootstrapService({
    name: 'identity',
    module: AppModule.forRoot({ config, databaseUrl: options.databaseUrl }),
    port: config.PORT,
    config,
    openapi: { title: 'Tessera identity', description: 'Tenants, users, auth, stores, vendors and API keys' },
    handleSignals: options.handleSignals,
    logDestination: options.logDestination,
    // Publishes only: readiness of the database and the messaging path, no consumers.
    configure: (app) => wireDataAndEvents(app, { consumeEvents: false }),
  });
}
