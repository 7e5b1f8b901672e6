import type { DataSource } from 'typeorm';

/** Readiness: resolves when the database answers `select 1` within `timeoutMs`, rejects otherwise. */
export async function pingDatabase(ds: DataSource, timeoutMs = 2000): Promise<void> {
  if (!ds.isInitialized) throw new Error('database: data source is not initialized');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([ds.query('select 1'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
