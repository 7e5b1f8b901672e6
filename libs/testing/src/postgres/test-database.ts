import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  /** Superuser URL of the fresh database (used for migrations and role setup in tests). */
  url: string;
  name: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TESSERA_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'TESSERA_TEST_DATABASE_URL is not set: the Jest config must use libs/testing postgres globalSetup',
    );
  }
  return url;
}

/** Creates an empty database on the test cluster, one per test file, so files never share state. */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const base = new URL(serverUrl());
  const name = `${prefix}_${randomBytes(6).toString('hex')}`.toLowerCase();
  const admin = new Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new Client({ connectionString: base.toString() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
