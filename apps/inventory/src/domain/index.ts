export * from './errors';
export * from './types';
export { DEFAULT_PAGE, MAX_PAGE, type KeysetPage } from './keyset-page';
export { CatalogReadModel, resolveStockCondition, type CatalogVariant } from './catalog-read-model';
export { InventoryDomain, type InventoryDomainOptions } from './inventory-domain';
export {
  LocationService,
  type Location,
  type CreateLocation,
  type LocationType,
  type LocationPage,
  type LocationPosition,
} from './locations.service';
export { MovementService, type Movement, type MovementResult } from './movements.service';
export {
  ReservationService,
  type HotPathOptions,
  type ReservationServiceOptions,
  type ReserveBatchingOptions,
} from './reservations.service';
export { DEFAULT_COD_TTL_SECONDS, DEFAULT_TTL_SECONDS } from './reservation-ttl';
export { HotQueue, type HotQueueOptions } from './hot-queue';
export {
  StockQueries,
  type LedgerEntry,
  type LevelFilter,
  type LevelPage,
  type LevelPosition,
  type InventorySettings,
} from './stock-queries.service';
