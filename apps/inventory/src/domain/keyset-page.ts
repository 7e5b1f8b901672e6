import { invalid } from './errors';

/** A page read by keyset: its rows, and the position of its last row when more follow (null on the last page). */
export interface KeysetPage<T, P> {
  items: T[];
  next: P | null;
}

/** Rows per page of inventory's lists: the platform's (service-kit's PageQueryDto) default and cap. */
export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

/** `limit` checked against the cap (the default when absent); an invalid one is a 400 `invalid_limit`. */
export function pageLimit(limit: number | undefined): number {
  const n = limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw invalid('invalid_limit', `limit must be an integer from 1 to ${MAX_PAGE}`);
  return n;
}
