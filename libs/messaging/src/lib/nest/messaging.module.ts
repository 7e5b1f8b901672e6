import { Inject, Injectable, Logger, Module } from '@nestjs/common';
import type {
  BeforeApplicationShutdown,
  DynamicModule,
  InjectionToken,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { topicOf } from '@tessera/contracts';
import type { BoundedContext } from '@tessera/contracts';
import { metricsRegistry, shutdownDeadline } from '@tessera/service-kit';
import type { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { DEFAULT_EVENT_MAX_ATTEMPTS, DeadLetterKeeper } from '../core/dead-letter-keeper';
import { DeadLetters } from '../core/dead-letters';
import { Inbox } from '../core/inbox';
import { consumerLagGauge, deadLettersGauge } from '../core/metrics';
import { DEFAULT_INBOX_RETENTION_MS, OutboxRelay } from '../core/outbox-relay';
import type { OutboxRelayOptions } from '../core/outbox-relay';
import { OutboxWriter } from '../core/outbox-writer';
import type { EventTransport } from '../core/transport.port';
import { createTransport } from '../create-transport';
import { DeadLettersController } from './dead-letters.controller';
import { EventsServer } from './events.server';

export const EVENT_TRANSPORT = Symbol('EVENT_TRANSPORT');
export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export interface MessagingModuleOptions {
  context: BoundedContext;
  schema: string;
  /** Consumer group of this service's event handlers, e.g. `inventory`. */
  groupId: string;
  /** Contexts whose topics the handlers consume. */
  subscribeTo: BoundedContext[];
  /** Token of the service's TypeORM DataSource (default: the `DataSource` class). */
  dataSourceToken?: InjectionToken;
  /**
   * postgres transport URL; default `<CONTEXT>_DATABASE_URL`, then MESSAGING_DATABASE_URL, then the URL of the
   * service's data source (its runtime role).
   */
  databaseUrl?: string;
  /** Overrides the transport chosen from the environment (tests, tools). */
  transport?: EventTransport;
  relay?: Partial<Omit<OutboxRelayOptions, 'dataSource' | 'schema' | 'transport'>>;
  /** Where the outbox and consumer-lag metrics go; default service-kit's registry, the one `/metrics` serves. */
  registry?: Registry;
  /**
   * Handle each partition's batch of events in one inbox transaction (default true). Handlers must then make their
   * database writes through `inbox.run`'s `tx`: a separate transaction touching rows the batch already wrote would
   * wait for the batch, which waits for it. Set false for a service whose handlers cannot.
   */
  batchTransactions?: boolean;
  /** How often consumer lag is sampled into `messaging_consumer_lag` (default 5000 ms). */
  lagIntervalMs?: number;
  /**
   * Park events that keep failing in `<schema>.dead_letters` (deadLettersMigration) and serve
   * `/internal/dead-letters` (default: when the service consumes events).
   */
  deadLetters?: boolean;
  /** Failed attempts before an event is parked; default EVENT_MAX_ATTEMPTS (10). 0 retries forever. */
  maxAttempts?: number;
  /** How often the open letters are read again (default 2000 ms). */
  deadLetterRefreshMs?: number;
}

/**
 * The postgres transport connects as the service's data source does, i.e. as its runtime role (`tessera_<schema>`,
 * which its migrations grant DML on schema `messaging`), unless a URL is given for it: never as the DATABASE_URL
 * superuser the launcher migrates with, which createTransport would otherwise fall back to.
 */
export function transportDatabaseUrl(
  options: Pick<MessagingModuleOptions, 'context' | 'databaseUrl'>,
  env: NodeJS.ProcessEnv,
  dataSourceUrl: string | undefined,
): string | undefined {
  return options.databaseUrl ?? env[`${options.context.toUpperCase()}_DATABASE_URL`] ?? env['MESSAGING_DATABASE_URL'] ?? dataSourceUrl;
}

/** Readiness: the transport reaches its broker or database, and the relay is running. */
@Injectable()
export class MessagingHealth {
  constructor(
    @Inject(EVENT_TRANSPORT) private readonly transport: EventTransport,
    private readonly relay: OutboxRelay,
  ) {}

  async check(): Promise<{ transport: string; relay: 'active' | 'standby' }> {
    if (!this.relay.running) throw new Error('outbox relay is not running');
    await this.transport.ping();
    return { transport: this.transport.kind, relay: this.relay.isActive ? 'active' : 'standby' };
  }
}

/**
 * Starts the relay once the app is up. On shutdown, first stops the consumers (each finishes the batch in hand), then
 * flushes and stops the relay, so that the events those last handlers wrote are published too, then closes the
 * transport. Relay first would leave them in the outbox until the next start, and the saga waiting for them.
 */
@Injectable()
export class MessagingLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new Logger('Messaging');
  private lagTimer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingModuleOptions,
    @Inject(EVENT_TRANSPORT) private readonly transport: EventTransport,
    private readonly relay: OutboxRelay,
    private readonly server: EventsServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.transport.connect();
    this.relay.start();
    const lag = consumerLagGauge(this.options.registry ?? metricsRegistry);
    this.lagTimer = setInterval(() => {
      const consumer = this.server.consumer;
      if (!consumer) return;
      consumer
        .lag()
        .then((n) => lag.set({ group: this.options.groupId }, n))
        .catch(() => undefined);
    }, this.options.lagIntervalMs ?? 5000).unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.server.close();
    await this.relay.stop({ deadline: shutdownDeadline() });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server.close();
    await this.transport.close().catch((err) => this.log.warn(`closing the transport failed: ${String(err)}`));
  }
}

/**
 * OUTBOX_RETENTION_MS: how long published outbox rows are kept (marked) before pruning; unset or 0 deletes them as
 * they are published. Tests that read what a service emitted set it (see libs/testing/src/keep-published-outbox.js).
 */
export function outboxRetentionMs(env: NodeJS.ProcessEnv): number {
  return millisecondsFromEnv(env, 'OUTBOX_RETENTION_MS', 0, 0);
}

/**
 * EVENT_MAX_ATTEMPTS: failed attempts of one event's handler (for a reason other than a database or network outage)
 * after which it is parked as a dead letter; 0 retries it forever, stalling its partition as before dead letters.
 */
export function eventMaxAttempts(env: NodeJS.ProcessEnv): number {
  const raw = env['EVENT_MAX_ATTEMPTS'];
  if (raw === undefined || raw === '') return DEFAULT_EVENT_MAX_ATTEMPTS;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > 1000) throw new Error(`EVENT_MAX_ATTEMPTS must be a whole number from 0 to 1000, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * INBOX_RETENTION_MS: how long handled events' ids stay in `processed_events` (default 30 days); at least a day, so a
 * typo cannot turn every redelivery into a second application.
 */
export function inboxRetentionMs(env: NodeJS.ProcessEnv): number {
  return millisecondsFromEnv(env, 'INBOX_RETENTION_MS', DEFAULT_INBOX_RETENTION_MS, 86_400_000, ' (one day)');
}

/** A whole number of milliseconds from `env[name]`, at least `min`; `fallback` when unset or empty. */
function millisecondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, minNote = ''): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < min) throw new Error(`${name} must be a whole number of milliseconds >= ${min}${minNote}, got ${JSON.stringify(raw)}`);
  return ms;
}

const relayLog = new Logger('OutboxRelay');
const deadLettersLog = new Logger('DeadLetters');
const nestRelayLogger = {
  warn: (message: string, err?: unknown) => relayLog.warn(err instanceof Error ? `${message}: ${err.message}` : message),
};

/**
 * `MessagingModule.forRoot({ context, schema, groupId, subscribeTo })` provides OutboxWriter, Inbox,
 * the transport (EVENT_TRANSPORT), OutboxRelay, EventsServer and MessagingHealth. Wire the handlers with
 * `connectEventsServer(app)` before `app.startAllMicroservices()` (wireDataAndEvents does).
 */
@Module({})
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    const dataSourceToken = options.dataSourceToken ?? DataSource;
    const deadLetters = options.deadLetters ?? options.subscribeTo.length > 0;
    return {
      module: MessagingModule,
      global: true,
      controllers: deadLetters ? [DeadLettersController] : [],
      providers: [
        {
          provide: DeadLetters,
          inject: [dataSourceToken],
          useFactory: (dataSource: DataSource) =>
            deadLetters ? new DeadLetters({ dataSource, schema: options.schema, groupId: options.groupId }) : null,
        },
        { provide: MESSAGING_OPTIONS, useValue: options },
        {
          provide: EVENT_TRANSPORT,
          inject: [dataSourceToken],
          useFactory: (dataSource: DataSource): EventTransport =>
            options.transport ??
            createTransport(process.env, {
              clientId: options.context,
              databaseUrl: transportDatabaseUrl(options, process.env, (dataSource.options as { url?: string }).url),
            }),
        },
        { provide: OutboxWriter, useFactory: () => new OutboxWriter({ context: options.context, schema: options.schema }) },
        {
          provide: Inbox,
          inject: [dataSourceToken],
          useFactory: (dataSource: DataSource) => new Inbox({ dataSource, schema: options.schema, groupId: options.groupId }),
        },
        {
          provide: OutboxRelay,
          inject: [dataSourceToken, EVENT_TRANSPORT],
          useFactory: (dataSource: DataSource, transport: EventTransport) =>
            new OutboxRelay({
              registry: options.registry ?? metricsRegistry,
              logger: nestRelayLogger,
              retentionMs: outboxRetentionMs(process.env),
              inboxRetentionMs: inboxRetentionMs(process.env),
              ...options.relay,
              dataSource,
              schema: options.schema,
              transport,
            }),
        },
        {
          provide: EventsServer,
          inject: [EVENT_TRANSPORT, Inbox, DeadLetters],
          useFactory: (transport: EventTransport, inbox: Inbox, letters: DeadLetters | null) =>
            new EventsServer({
              transport,
              groupId: options.groupId,
              topics: options.subscribeTo.map(topicOf),
              inbox: options.batchTransactions === false ? undefined : inbox,
              deadLetters: letters
                ? new DeadLetterKeeper({
                    store: letters,
                    maxAttempts: options.maxAttempts ?? eventMaxAttempts(process.env),
                    refreshMs: options.deadLetterRefreshMs,
                    // Kept as long as the inbox remembers handled events.
                    resolvedRetentionMs: inboxRetentionMs(process.env),
                    gauge: deadLettersGauge(options.registry ?? metricsRegistry),
                    log: deadLettersLog,
                  })
                : undefined,
            }),
        },
        MessagingHealth,
        MessagingLifecycle,
      ],
      exports: [EVENT_TRANSPORT, OutboxWriter, Inbox, OutboxRelay, EventsServer, MessagingHealth, DeadLetters],
    };
  }
}
