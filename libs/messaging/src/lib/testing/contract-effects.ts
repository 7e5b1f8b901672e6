import type { EventEnvelope } from '@tessera/contracts';
import type { EntityManager } from 'typeorm';

/** The side effect the contract suite counts: one row per applied event. */
export const effectsTableSql = (schema: string): string =>
  `CREATE TABLE IF NOT EXISTS "${schema}".effects (
     n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     event_id uuid NOT NULL,
     key text NOT NULL,
     seq integer NOT NULL,
     consumer text NOT NULL
   )`;

export async function recordEffect(manager: EntityManager, schema: string, event: EventEnvelope, consumer: string): Promise<void> {
  const seq = (event.data as { seq: number }).seq;
  await manager.query(`INSERT INTO "${schema}".effects (event_id, key, seq, consumer) VALUES ($1, $2, $3, $4)`, [
    event.id,
    event.partitionkey,
    seq,
    consumer,
  ]);
}
