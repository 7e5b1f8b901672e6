import { QueryFailedError } from 'typeorm';

/** The failed statement's SQLSTATE, constraint and detail when it is a PostgreSQL error, else undefined. */
export function pgError(error: unknown): { code: string; constraint?: string; detail?: string } | undefined {
  if (!(error instanceof QueryFailedError)) return undefined;
  const driver = error.driverError as { code?: string; constraint?: string; detail?: string };
  return driver.code ? { code: driver.code, constraint: driver.constraint, detail: driver.detail } : undefined;
}
