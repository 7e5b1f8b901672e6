import { Client } from 'pg';
import { createTestDatabase } from './test-database';

describe('createTestDatabase', () => {
  it('gives each caller its own empty database on a real PostgreSQL server', async () => {
    const a = await createTestDatabase();
    const b = await createTestDatabase();
    expect(a.name).not.toEqual(b.name);
    const c = new Client({ connectionString: a.url });
    await c.connect();
    const { rows } = await c.query<{ v: string; db: string }>('select version() as v, current_database() as db');
    await c.end();
    expect(rows[0].v).toMatch(/^PostgreSQL 1[5-9]/);
    expect(rows[0].db).toEqual(a.name);
    await a.drop();
    await b.drop();
  });
});
