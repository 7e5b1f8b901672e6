import type { Socket } from 'node:net';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Client, type PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { coalescingSocket, createServiceDataSource, runMigrations, runtimeDatabaseUrl } from '../src';
import { uniqueSchema } from './fixtures/helpers';
import { Widget } from './fixtures/widget.entity';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const schema = uniqueSchema('coalesce');

let db: TestDatabase;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ adminUrl: db.url, schema, migrations: widgetMigrations(schema), password: PASSWORD });
  ds = await createServiceDataSource({ url: runtimeDatabaseUrl(db.url, schema, PASSWORD), schema, entities: [Widget], poolSize: 2 }).initialize();
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

function socketOf(client: Client | PoolClient): Socket {
  return (client as unknown as { connection: { stream: Socket } }).connection.stream;
}

/** Counts the writes that reach the socket's handle (one per write or writev system call). */
function countWrites(socket: Socket): () => number {
  const write = jest.spyOn(socket as unknown as { _write: () => void }, '_write');
  const writev = jest.spyOn(socket as unknown as { _writev: () => void }, '_writev');
  return () => write.mock.calls.length + writev.mock.calls.length;
}

/** A connected pipelined client (through `stream` when given), ended after `fn`. */
async function withPipelinedClient(stream: (() => Socket) | undefined, fn: (client: Client) => Promise<void>): Promise<void> {
  const client = new Client({ connectionString: db.url, pipeline: true, stream } as ConstructorParameters<typeof Client>[0]);
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** A transaction's statements issued in one turn, as a pipelined service transaction issues them. */
async function oneTurnTransaction(client: Client | PoolClient): Promise<number[]> {
  const statements = [
    client.query('BEGIN'),
    client.query<{ n: number }>({ text: 'SELECT $1::int AS n', values: [1] }),
    client.query<{ n: number }>({ text: 'SELECT $1::int AS n', values: [2] }),
    client.query('COMMIT'),
  ];
  const results = await Promise.all(statements);
  return [results[1].rows[0].n, results[2].rows[0].n];
}

describe('coalescingSocket', () => {
  it('sends the statements a service pool issues in one turn in a single write', async () => {
    const runner = ds.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      const writes = countWrites(socketOf(client));
      expect(await oneTurnTransaction(client)).toEqual([1, 2]);
      expect(writes()).toBe(1);
    } finally {
      await runner.release();
    }
  });

  it('is what makes the difference: a plain pipelined client writes once per statement', async () => {
    await withPipelinedClient(undefined, async (client) => {
      const writes = countWrites(socketOf(client));
      expect(await oneTurnTransaction(client)).toEqual([1, 2]);
      expect(writes()).toBe(4);
    });
  });

  it('lets go of held writes before the loop waits, so statements of later turns are not stuck', async () => {
    await withPipelinedClient(coalescingSocket, async (client) => {
      const socket = socketOf(client);
      const writes = countWrites(socket);
      expect((await client.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
      expect(writes()).toBe(2);
      await new Promise((resolve) => setImmediate(resolve));
      expect(socket.writableCorked).toBe(0);
    });
  });

  it('still reports a failed statement and keeps the connection usable', async () => {
    await withPipelinedClient(coalescingSocket, async (client) => {
      const failed = client.query('SELECT 1/0');
      const next = client.query('SELECT 3 AS n');
      await expect(failed).rejects.toThrow(/division by zero/);
      expect((await next).rows).toEqual([{ n: 3 }]);
    });
  });
});
