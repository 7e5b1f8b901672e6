import type { BoundedContext, EventEnvelope } from '@tessera/contracts';
import { topicOf } from '@tessera/contracts';
import type { EntityManager } from 'typeorm';
import { createEnvelope } from './cloudevents';
import { PreparedQuery, connectionOf, sendWithoutWaiting } from '@tessera/persistence';
import { currentTraceparent } from '@tessera/service-kit';
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
  /** Defaults to the trace of the request or event being handled (service-kit `currentTraceparent`). */
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
  /**
   * The envelopes travel as one JSON array, unpacked by the server, so any number of events is one prepared
   * statement. Identity values are taken in the order rows are inserted, hence ORDER BY the array position:
   * seq follows the order of the events given.
   */
  private readonly insert: PreparedQuery;

  constructor(private readonly opts: OutboxWriterOptions) {
    this.topic = opts.topic ?? topicOf(opts.context);
    this.insert = new PreparedQuery(
      `INSERT INTO ${quoteSchema(opts.schema)}.outbox_events (id, topic, partition_key, type, tenant_id, envelope)
       SELECT (e.env->>'id')::uuid, $1, e.env->>'partitionkey', e.env->>'type', (e.env->>'tenantid')::uuid, e.env
         FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(env, ord)
        ORDER BY e.ord`,
    );
  }

  async append<T>(tx: OutboxTx, event: OutboxEventInput<T>): Promise<EventEnvelope<T>> {
    const [envelope] = await this.appendAll(tx, [event]);
    return envelope;
  }

  /** Appends several events with one INSERT; their seq order is the array order. `tx` must be in a transaction. */
  async appendAll<T>(tx: OutboxTx, events: OutboxEventInput<T>[]): Promise<EventEnvelope<T>[]> {
    if (events.length === 0) return [];
    const trace = currentTraceparent();
    const envelopes = events.map((e) =>
      createEnvelope({
        source: this.opts.context,
        type: e.type,
        subject: e.subject,
        tenantId: tx.tenantId,
        data: e.data,
        partitionKey: e.partitionKey,
        traceparent: e.traceparent ?? trace,
      }),
    );
    // Nothing here needs the insert's answer: on a pipelined connection it is awaited with the COMMIT that follows it
    // (or fails the transaction then), saving the transaction a round trip.
    const client = await connectionOf(tx.manager);
    await sendWithoutWaiting(tx.manager, client, this.insert.run(client, [this.topic, JSON.stringify(envelopes)]));
    const runner = tx.manager.queryRunner;
    if (runner) {
      if (runner.data) (runner.data as Record<string, unknown>)[OUTBOX_APPENDED] = true;
      else runner.data = { [OUTBOX_APPENDED]: true };
    }
    return envelopes;
  }
}
