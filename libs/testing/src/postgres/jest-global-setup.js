// Jest globalSetup: one embedded PostgreSQL per test run. Test files each get a fresh database from it
// (see createTestDatabase). TESSERA_TEST_DATABASE_URL points the run at an external server instead.
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const { startEmbeddedPostgres } = require('./embedded-cluster');

module.exports = async function globalSetup() {
  if (process.env.TESSERA_TEST_DATABASE_URL) return;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-pg-'));
  fs.rmSync(dataDir, { recursive: true, force: true });
  const cluster = await startEmbeddedPostgres({ dataDir, fsync: false });
  globalThis.__TESSERA_PG__ = { cluster, dataDir };
  process.env.TESSERA_TEST_DATABASE_URL = cluster.url;
};
