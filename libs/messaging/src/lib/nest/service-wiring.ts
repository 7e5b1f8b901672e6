import type { INestApplication } from '@nestjs/common';
import { pingDatabase } from '@tessera/persistence';
import { HealthRegistry } from '@tessera/service-kit';
import { DataSource } from 'typeorm';
import { EventsServer } from './events.server';
import { MessagingHealth } from './messaging.module';

export interface ServiceWiringOptions {
  /** Start the `@EventPattern` consumers (default true); services that only publish, or tests that drive
   *  handlers directly, pass false. */
  consumeEvents?: boolean;
}

/**
 * What every event-driven service does once its Nest app exists: report the database and the messaging path
 * (transport reachable, relay running) on /health/ready, and start its event consumers. Call it from
 * bootstrapService's `configure`.
 */
export async function wireDataAndEvents(app: INestApplication, options: ServiceWiringOptions = {}): Promise<void> {
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
}
