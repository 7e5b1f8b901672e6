import type { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, TenantTransactions } from '@tessera/persistence';
import type { DataSource } from 'typeorm';
import { CatalogReadModel } from './catalog-read-model';
import { inventoryOutbox } from './events';
import { HotQueue, type HotQueueOptions } from './hot-queue';
import { LocationService } from './locations.service';
import { MovementService } from './movements.service';
import { ReservationService, type HotPathOptions, type ReserveBatchingOptions } from './reservations.service';
import { StockQueries } from './stock-queries.service';

export interface InventoryDomainOptions {
  hotPath?: Partial<HotPathOptions>;
  /** How concurrent reserve calls share transactions (see ReserveBatchingOptions). */
  batching?: Partial<ReserveBatchingOptions>;
  hotQueue?: HotQueueOptions;
  /** Wake the hot-queue worker in this process right after an enqueue (default true). */
  kickHotQueue?: boolean;
}

/** The inventory services over one data source (the runtime role's connection to schema `inventory`). */
export class InventoryDomain {
  readonly tenants: TenantTransactions;
  readonly outbox: OutboxWriter;
  /** The `Idempotency-Key` store of the create routes (the HTTP layer uses it; the domain needs none). */
  readonly idempotency: IdempotencyKeys;
  readonly locations: LocationService;
  readonly movements: MovementService;
  readonly reservations: ReservationService;
  readonly hotQueue: HotQueue;
  readonly queries: StockQueries;
  /** The tenants' catalog SKUs, from catalog events: movements refuse the others. */
  readonly catalog: CatalogReadModel;

  constructor(dataSource: DataSource, opts: InventoryDomainOptions = {}) {
    this.tenants = new TenantTransactions(dataSource);
    this.outbox = inventoryOutbox();
    this.idempotency = new IdempotencyKeys(this.tenants);
    this.locations = new LocationService(this.tenants);
    this.movements = new MovementService(this.tenants, this.outbox);
    this.queries = new StockQueries(this.tenants);
    this.catalog = new CatalogReadModel(this.tenants);
    this.hotQueue = new HotQueue(this.tenants, this.outbox, opts.hotQueue);
    const kick = opts.kickHotQueue ?? true;
    this.reservations = new ReservationService(this.tenants, this.outbox, {
      hotPath: opts.hotPath,
      batching: opts.batching,
      onEnqueued: kick ? (tenantId, sku) => this.hotQueue.kick(tenantId, sku) : undefined,
    });
  }
}
