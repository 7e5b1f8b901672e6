import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

describe('inventory migrate.ts', () => {
  it('refuses KAFKA_BROKERS that lists no broker instead of skipping the messaging schema', () => {
    const run = spawnSync(process.execPath, ['-r', '@swc-node/register', 'apps/inventory/src/migrate.ts', 'run'], {
      cwd: root,
      // Nothing listens on port 1: a migration that went on would fail connecting, not on KAFKA_BROKERS.
      env: { ...process.env, SWC_NODE_PROJECT: 'apps/inventory/tsconfig.json', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db', DB_APP_PASSWORD: 'pw', KAFKA_BROKERS: ' , ' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('[migrate inventory] failed: KAFKA_BROKERS lists no broker (" , ")');
  });
});
