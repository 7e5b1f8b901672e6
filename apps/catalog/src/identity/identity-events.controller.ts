import { Controller, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { IdentityEventTypes, type EventEnvelope, type TenantCreatedV1, type VendorCreatedV1 } from '@tessera/contracts';
import { Inbox } from '@tessera/messaging';
import { applyTenantCreated, applyVendorCreated, tenantPayloadProblem, vendorPayloadProblem } from './identity-read-model';

/**
 * Builds the catalog's read model of identity (`known_tenants`, `known_vendors`) from identity events, so that a
 * product's `vendorId` can be checked locally. Every event goes through the inbox (group `catalog`): a redelivered
 * event is a duplicate and changes nothing. Other identity events are not consumed.
 */
@Controller()
export class IdentityEventsController {
  private readonly log = new Logger(IdentityEventsController.name);

  constructor(private readonly inbox: Inbox) {}

  @EventPattern(IdentityEventTypes.TenantCreated)
  async onTenantCreated(@Payload() e: EventEnvelope<TenantCreatedV1>): Promise<void> {
    // A malformed payload is a producer bug that no retry can fix: log it and let the partition move on.
    const problem = tenantPayloadProblem(e.data, e.tenantid);
    if (problem) return this.log.error(`${e.type} ${e.id} skipped: ${problem}`);
    await this.inbox.run(e, (tx) => applyTenantCreated(tx.manager, e.data));
  }

  @EventPattern(IdentityEventTypes.VendorCreated)
  async onVendorCreated(@Payload() e: EventEnvelope<VendorCreatedV1>): Promise<void> {
    const problem = vendorPayloadProblem(e.data, e.tenantid);
    if (problem) return this.log.error(`${e.type} ${e.id} skipped: ${problem}`);
    await this.inbox.run(e, (tx) => applyVendorCreated(tx.manager, e.data));
  }
}
