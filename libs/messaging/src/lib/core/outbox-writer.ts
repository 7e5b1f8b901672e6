import type { BoundedContext, EventEnvelope } from '@tessera/contracts';
import { topicOf } from '@tessera/contracts';
import type { EntityManager } from 'typeorm';
import { createEnvelope } from './cloudevents';
import { quoteSchema } from './sql-names';

export interface OutboxTx {
  manager: EntityManager;
  tenantId: string;
}

export interface OutboxEventInput<T = unknown> {
  type: string;
  subject: string;
  data: T;
  /** Defaults to the subject (the aggregate id). */
  partitionKey?: string;
  traceparent?: string;
}

export interface OutboxWriterOptions {
  context: BoundedContext;
  schema: string;
  /** Defaults to `tessera.<context>.events`. */
  topic?: string;
}

/** Marker the relay's transaction subscriber looks for, to wake up right after the commit. */
export const OUTBOX_APPENDED = '__tesseraOutboxAppended';

/**
 * Writes events into the service's outbox inside the caller's transaction, so the state change and
 * its events commit (or roll back) together. No NOTIFY here: that would serialize every business commit.
 */
export class OutboxWriter {
  readonly topic: string;
  private readonly table: string;

  constructor(private readonly opts: OutboxWriterOptions) {
    this.topic = opts.topic ?? topicOf(opts.context);
    this.table = `${quoteSchema(opts.schema)}.outbox_events`;
  }

  async append<T>(tx: OutboxTx, event: OutboxEventInput<T>): Promise<EventEnvelope<T>> {
    const [envelope] = await this.appendAll(tx, [event]);
    return envelope;
  }

  /** Appends several events with one INSERT; their seq order is the array order. */
  async appendAll<T>(tx: OutboxTx, events: OutboxEventInput<T>[]): Promise<EventEnvelope<T>[]> {
    if (events.length === 0) return [];
    const envelopes = events.map((e) =>
      createEnvelope({
        source: this.opts.context,
        type: e.type,
        subject: e.subject,
        tenantId: tx.tenantId,
        data: e.data,
        partitionKey: e.partitionKey,
        traceparent: e.traceparent,
      }),
    );
    // Multi-row VALUES take identity values in list order, so seq follows the array order; chunks keep
    // each statement well under PostgreSQL's 65,535 bind parameters.
    for (let i = 0; i < envelopes.length; i += 1000) {
      const params: unknown[] = [];
      const rows = envelopes.slice(i, i + 1000).map((e) => {
        const n = params.length;
        params.push(e.id, this.topic, e.partitionkey, e.type, e.tenantid, JSON.stringify(e));
        return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}::jsonb)`;
      });
      await tx.manager.query(
        `INSERT INTO ${this.table} (id, topic, partition_key, type, tenant_id, envelope) VALUES ${rows.join(', ')}`,
        params,
      );
    }
    const runner = tx.manager.queryRunner;
    if (runner) {
      if (runner.data) (runner.data as Record<string, unknown>)[OUTBOX_APPENDED] = true;
      else runner.data = { [OUTBOX_APPENDED]: true };
    }
    return envelopes;
  }
}
