import { Controller, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CatalogEventTypes, eventTimeOrNow, variantEventProblem, type EventEnvelope, type VariantEventV1 } from '@tessera/contracts';
import { Inbox } from '@tessera/messaging';
import { InventoryDomain } from '../domain';

/**
 * Builds inventory's catalog read model (`catalog_variants`: the SKUs each tenant's catalog has) from catalog events,
 * so that a movement can refuse a SKU the catalog never announced. Every event goes through the inbox (group
 * `inventory`, one transaction per event: inventory consumes without batched transactions), and the row keeps the
 * highest catalog version: a redelivered event is a duplicate, a late older one changes nothing.
 *
 * Product events are not consumed: a variant event carries the effective status (a product's draft or archived
 * state included), and a movement accepts a catalog SKU whatever its status.
 */
@Controller()
export class CatalogEventsController {
  private readonly log = new Logger(CatalogEventsController.name);

  constructor(
    private readonly inbox: Inbox,
    private readonly inventory: InventoryDomain,
  ) {}

  @EventPattern(CatalogEventTypes.VariantCreated)
  onVariantCreated(@Payload() e: EventEnvelope<VariantEventV1>): Promise<void> {
    return this.applyVariant(e);
  }

  @EventPattern(CatalogEventTypes.VariantUpdated)
  onVariantUpdated(@Payload() e: EventEnvelope<VariantEventV1>): Promise<void> {
    return this.applyVariant(e);
  }

  private async applyVariant(e: EventEnvelope<VariantEventV1>): Promise<void> {
    // A malformed payload is a producer bug that no retry can fix: log it and let the partition move on.
    const problem = variantEventProblem(e.data);
    if (problem) return this.log.error(`${e.type} ${e.id} skipped: ${problem}`);
    const v = e.data;
    const occurredAt = eventTimeOrNow(v.occurredAt, e.time);
    await this.inbox.run(e, async (tx) => {
      await this.inventory.catalog.applyIn(tx.manager, {
        variantId: v.variantId,
        productId: v.productId,
        sku: v.sku,
        status: v.status,
        // The contract's default: a variant without a condition option sells new stock.
        condition: v.condition ?? 'new',
        version: v.version,
        occurredAt,
      });
    });
  }
}
