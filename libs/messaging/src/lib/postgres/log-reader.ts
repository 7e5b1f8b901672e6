import type { EventEnvelope } from '@tessera/contracts';
import { PreparedQuery, type Queryable } from '@tessera/persistence';

export interface LogRow {
  offset: string;
  envelope: EventEnvelope;
}

interface Request {
  topic: string;
  partition: number;
  from: bigint;
  resolve(rows: LogRow[]): void;
  reject(error: unknown): void;
}

// Up to `limit` rows from each requested partition, in one round trip.
const READ_MANY = new PreparedQuery<{ i: number; offset: string; envelope: EventEnvelope }>(
  `SELECT p.i, e."offset", e.envelope
     FROM unnest($1::text[], $2::int[], $3::bigint[]) WITH ORDINALITY AS p(topic, partition, from_offset, i)
     CROSS JOIN LATERAL (
       SELECT "offset", envelope FROM messaging.events
        WHERE topic = p.topic AND partition = p.partition AND "offset" >= p.from_offset
        ORDER BY "offset" LIMIT $4) e
    ORDER BY p.i, e."offset"`,
);

/**
 * Reads for the partition workers of one consumer. A publish wakes the readers of every partition it wrote at the
 * same moment; their reads, asked for in the same turn of the event loop, go to the database as one statement
 * instead of one each.
 */
export class LogReader {
  private pending: Request[] = [];

  constructor(
    private readonly pool: Queryable,
    private readonly limit: number,
  ) {}

  read(topic: string, partition: number, from: bigint): Promise<LogRow[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      this.pending.push({ topic, partition, from, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const requests = this.pending;
    this.pending = [];
    try {
      const { rows } = await READ_MANY.run(this.pool, [
        requests.map((r) => r.topic),
        requests.map((r) => r.partition),
        requests.map((r) => r.from.toString()),
        this.limit,
      ]);
      const byRequest: LogRow[][] = requests.map(() => []);
      for (const row of rows) byRequest[Number(row.i) - 1].push({ offset: row.offset, envelope: row.envelope });
      requests.forEach((r, k) => r.resolve(byRequest[k]));
    } catch (err) {
      for (const r of requests) r.reject(err);
    }
  }
}
