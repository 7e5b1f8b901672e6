#!/usr/bin/env node
// Runs a command (the test run) with one embedded PostgreSQL for all of it: the Jest projects that `nx run-many`
// starts, one process each, find it in TESSERA_TEST_DATABASE_URL (libs/testing's global setup then starts none)
// and each test file takes a fresh database from it. Without this every project would start a cluster of its own.
// Usage: node tools/test/with-postgres.js <command> [args...]
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startEmbeddedPostgres } = require('../../libs/testing/src/postgres/embedded-cluster');

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (!command) throw new Error('usage: with-postgres.js <command> [args...]');
  if (process.env.TESSERA_TEST_DATABASE_URL) return run(command, args);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-pg-'));
  fs.rmSync(dataDir, { recursive: true, force: true });
  const cluster = await startEmbeddedPostgres({ dataDir, fsync: false });
  let code = 1;
  try {
    code = await run(command, args, { TESSERA_TEST_DATABASE_URL: cluster.url });
  } finally {
    await cluster.stop().catch((e) => console.error(`[with-postgres] stopping PostgreSQL failed: ${e.message}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return code;
}

/** The command's exit code; SIGINT/SIGTERM to this process are passed on, and the cluster is stopped after it. */
function run(command, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...env }, shell: process.platform === 'win32' });
    const forward = (signal) => child.kill(signal);
    for (const s of ['SIGINT', 'SIGTERM']) process.on(s, forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`[with-postgres] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
