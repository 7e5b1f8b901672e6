export * from './errors';
export * from './types';
export { CatalogReadModel, assertKnownSku, variantPayloadProblem, type CatalogVariant } from './catalog-read-model';
export { InventoryDomain, type InventoryDomainOptions } from './inventory-domain';
export { LocationService, type Location, type CreateLocation, type LocationType } from './locations.service';
export { MovementService, type Movement, type MovementResult } from './movements.service';
export {
  ReservationService,
  DEFAULT_TTL_SECONDS,
  type HotPathOptions,
  type ReservationServiceOptions,
  type ReserveBatchingOptions,
} from './reservations.service';
export { HotQueue, type HotQueueOptions } from './hot-queue';
export { StockQueries, type LedgerEntry } from './stock-queries.service';
