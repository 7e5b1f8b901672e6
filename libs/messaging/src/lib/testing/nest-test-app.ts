import { Global, Module, type INestApplication, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { DataSource } from 'typeorm';
import { deadLettersTableSql } from '../core/dead-letters';
import { messagingTablesSql } from '../core/messaging-tables.migration';
import { ensureMessagingSchema } from '../postgres/messaging-schema';
import { MessagingModule, type MessagingModuleOptions } from '../nest/messaging.module';
import { connectEventsServer } from '../nest/service-wiring';

/**
 * A fresh database with the messaging log and a service schema holding the outbox, inbox and dead letters, as a
 * service's migrations leave them (without RLS: the specs connect as the superuser), plus `extraSql` for the
 * handlers' own tables.
 */
export async function createMessagingTestDatabase(name: string, schema: string, extraSql: string[] = []): Promise<{ db: TestDatabase; ds: DataSource }> {
  const db = await createTestDatabase(name);
  await ensureMessagingSchema(db.url);
  const ds = new DataSource({ type: 'postgres', url: db.url });
  await ds.initialize();
  await ds.query(`CREATE SCHEMA ${schema}`);
  for (const sql of [...messagingTablesSql(schema), ...deadLettersTableSql(schema), ...extraSql]) await ds.query(sql);
  return { db, ds };
}

/** A Nest app of `MessagingModule.forRoot(options)` and `controllers` on `ds`, its events server listening. */
export async function startMessagingTestApp(ds: DataSource, options: MessagingModuleOptions, controllers: Type[]): Promise<INestApplication> {
  @Global()
  @Module({ providers: [{ provide: DataSource, useValue: ds }], exports: [DataSource] })
  class DatabaseModule {}

  const moduleRef = await Test.createTestingModule({ imports: [DatabaseModule, MessagingModule.forRoot(options)], controllers }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  connectEventsServer(app);
  await app.startAllMicroservices();
  await app.init();
  return app;
}
