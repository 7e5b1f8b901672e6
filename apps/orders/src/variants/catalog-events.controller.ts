import { Controller, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import {
  CatalogEventTypes,
  eventTimeOrNow,
  productEventProblem,
  variantEventProblem,
  type EventEnvelope,
  type ProductEventV1,
  type VariantEventV1,
} from '@tessera/contracts';
import { Inbox } from '@tessera/messaging';
import { VariantReadModel } from './variant-read-model';

/** Builds the local variants read model (SKU, price, sellable status) from catalog events. */
@Controller()
export class CatalogEventsController {
  private readonly log = new Logger(CatalogEventsController.name);

  constructor(private readonly inbox: Inbox) {}

  @EventPattern(CatalogEventTypes.VariantCreated)
  onVariantCreated(@Payload() e: EventEnvelope<VariantEventV1>): Promise<void> {
    return this.applyVariant(e);
  }

  @EventPattern(CatalogEventTypes.VariantUpdated)
  onVariantUpdated(@Payload() e: EventEnvelope<VariantEventV1>): Promise<void> {
    return this.applyVariant(e);
  }

  @EventPattern(CatalogEventTypes.ProductCreated)
  onProductCreated(@Payload() e: EventEnvelope<ProductEventV1>): Promise<void> {
    return this.applyProduct(e);
  }

  @EventPattern(CatalogEventTypes.ProductUpdated)
  onProductUpdated(@Payload() e: EventEnvelope<ProductEventV1>): Promise<void> {
    return this.applyProduct(e);
  }

  @EventPattern(CatalogEventTypes.ProductArchived)
  onProductArchived(@Payload() e: EventEnvelope<ProductEventV1>): Promise<void> {
    return this.applyProduct(e, 'archived');
  }

  private async applyVariant(e: EventEnvelope<VariantEventV1>): Promise<void> {
    // A malformed payload is a producer bug that no retry can fix: log it and let the partition move on.
    const problem = variantEventProblem(e.data);
    if (problem) return this.log.error(`${e.type} ${e.id} skipped: ${problem}`);
    const occurredAt = eventTimeOrNow(e.data.occurredAt, e.time);
    await this.inbox.run(e, (tx) => VariantReadModel.applyVariant(tx.manager, e.data, occurredAt));
  }

  private async applyProduct(e: EventEnvelope<ProductEventV1>, status?: string): Promise<void> {
    const problem = productEventProblem(e.data);
    if (problem) return this.log.error(`${e.type} ${e.id} skipped: ${problem}`);
    await this.inbox.run(e, (tx) => VariantReadModel.applyProduct(tx.manager, e.data, status));
  }
}
