import type { INestApplication } from '@nestjs/common';
import { pingDatabase } from '@tessera/persistence';
import { HealthRegistry } from '@tessera/service-kit';
import { NestMicroservice } from '@nestjs/microservices';
import { DataSource } from 'typeorm';
import { EventHandlerErrorFilter, EventsServer } from './events.server';
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
    connectEventsServer(app);
    await app.startAllMicroservices();
  }
}

/**
 * Connects the app's EventsServer as a Nest microservice whose handlers' errors reach it as thrown
 * (EventHandlerErrorFilter). Nest builds a handler's exception handling when it registers the listeners, which
 * connectMicroservice does at once: so it is deferred, the filter set, and then the same three steps taken.
 */
export function connectEventsServer(app: INestApplication): NestMicroservice {
  const microservice = app.connectMicroservice({ strategy: app.get(EventsServer) }, { deferInitialization: true }) as NestMicroservice;
  microservice.useGlobalFilters(new EventHandlerErrorFilter());
  microservice.registerListeners();
  microservice.setIsInitialized(true);
  microservice.setIsInitHookCalled(true);
  return microservice;
}
