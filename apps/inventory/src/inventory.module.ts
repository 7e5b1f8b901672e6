import { Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type BeforeApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { INVENTORY_CONFIG, type InventoryConfig } from './config';
import { InventoryDomain } from './domain';
import { CatalogEventsController } from './events/catalog-events.controller';
import { OrderEventsController } from './events/order-events.controller';
import { InventoryAdminController } from './http/admin.controller';
import { LocationsController } from './http/locations.controller';
import { StockController } from './http/stock.controller';

/** Background work of the service: the hot-SKU queue worker and the reservation expiry sweeper. */
@Injectable()
export class InventoryWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> = Promise.resolve();
  private readonly log = new Logger('ExpirySweeper');

  constructor(
    private readonly inventory: InventoryDomain,
    @Inject(INVENTORY_CONFIG) private readonly config: InventoryConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.inventory.hotQueue.start();
    this.sweeper = setInterval(() => {
      // One sweep at a time; a failed sweep (or tenant) is retried by the next tick.
      this.sweeping = this.sweeping
        .then(() =>
          this.inventory.reservations.expireDueAllTenants(undefined, (tenantId, err) =>
            this.log.warn(`expiry sweep failed for tenant ${tenantId}: ${err instanceof Error ? err.message : String(err)}`),
          ),
        )
        .catch((err: unknown) => this.log.warn(`expiry sweep failed: ${err instanceof Error ? err.message : String(err)}`));
    }, this.config.INVENTORY_EXPIRY_SWEEP_MS);
    this.sweeper.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.sweeping;
    await this.inventory.hotQueue.stop();
  }
}

@Module({
  controllers: [LocationsController, StockController, InventoryAdminController, OrderEventsController, CatalogEventsController],
  providers: [
    {
      provide: InventoryDomain,
      inject: [DataSource, INVENTORY_CONFIG],
      useFactory: (ds: DataSource, config: InventoryConfig) =>
        new InventoryDomain(ds, {
          hotPath: {
            enabled: config.INVENTORY_HOT_PATH,
            detectContention: config.INVENTORY_HOT_DETECT,
            lockTimeoutMs: config.INVENTORY_HOT_LOCK_TIMEOUT_MS,
          },
          hotQueue: { batchSize: config.INVENTORY_HOT_BATCH_SIZE },
        }),
    },
    InventoryWorkers,
  ],
  exports: [InventoryDomain],
})
export class InventoryModule {}
