import { InventoryEventTypes } from '@tessera/contracts';
import { OutboxWriter, type OutboxEventInput, type OutboxTx } from '@tessera/messaging';
import { INVENTORY_SCHEMA } from '../migrations';

export { InventoryEventTypes };

/** The outbox of the inventory schema: events commit or roll back with the stock change that caused them. */
export function inventoryOutbox(): OutboxWriter {
  return new OutboxWriter({ context: 'inventory', schema: INVENTORY_SCHEMA });
}

/** Collects the events of one transaction and appends them with a single INSERT at the end. */
export class PendingEvents {
  private readonly events: OutboxEventInput<unknown>[] = [];

  add<T>(type: string, subject: string, data: T, partitionKey?: string): void {
    this.events.push({ type, subject, data, partitionKey });
  }

  get size(): number {
    return this.events.length;
  }

  async flush(outbox: OutboxWriter, tx: OutboxTx): Promise<void> {
    if (this.events.length > 0) await outbox.appendAll(tx, this.events.splice(0));
  }
}
