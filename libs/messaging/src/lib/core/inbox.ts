import type { EventEnvelope } from '@tessera/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { quoteSchema } from './sql-names';

export interface InboxOptions {
  dataSource: DataSource;
  schema: string;
  groupId: string;
}

export interface InboxTx<T = unknown> {
  manager: EntityManager;
  tenantId: string;
  event: EventEnvelope<T>;
}

export type InboxOutcome = 'applied' | 'duplicate';

/**
 * Idempotent consumption: the event id goes into `processed_events` in the same transaction as the
 * effect, with the tenant set for RLS from the event. A redelivered event (after a rebalance, a relay
 * retry or a consumer crash) finds its id and changes nothing.
 */
export class Inbox {
  private readonly table: string;

  constructor(private readonly opts: InboxOptions) {
    this.table = `${quoteSchema(opts.schema)}.processed_events`;
  }

  static run<T>(opts: InboxOptions, event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    return new Inbox(opts).run(event, effect);
  }

  get groupId(): string {
    return this.opts.groupId;
  }

  async run<T>(event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    return this.opts.dataSource.transaction(async (manager) => {
      // set_config(..., true) is SET LOCAL that accepts a parameter: the tenant lasts only for this transaction.
      await manager.query(`SELECT set_config('app.tenant_id', $1, true)`, [event.tenantid]);
      // A concurrent duplicate blocks here on the primary key until the first one commits or rolls back.
      const inserted: unknown[] = await manager.query(
        `INSERT INTO ${this.table} (consumer_group, event_id, tenant_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING event_id`,
        [this.opts.groupId, event.id, event.tenantid],
      );
      if (inserted.length === 0) return 'duplicate';
      await effect({ manager, tenantId: event.tenantid, event });
      return 'applied';
    });
  }
}
