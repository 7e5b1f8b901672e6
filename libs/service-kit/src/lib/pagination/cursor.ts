import type { z } from 'zod';
import { BadRequestProblem } from '../problem/domain-exception';

const MAX_CURSOR_LENGTH = 1024;

/** An opaque cursor: base64url of the JSON position (e.g. `{ createdAt, id }` of the last item). */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by `encodeCursor`. Anything that does not decode, or does not match `schema` when one is
 * given, is the client's mistake: a 400 problem, never a 500.
 */
export function decodeCursor<T = unknown>(cursor: string, schema?: z.ZodType<T>): T {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw invalidCursor();
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!schema) return value as T;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidCursor();
  return parsed.data;
}

/** The 400 problem of a cursor this API did not hand out, also for one that decodes but names no position. */
export function invalidCursor(): BadRequestProblem {
  return new BadRequestProblem('The cursor is invalid', {
    errors: [{ field: 'cursor', pointer: '#/cursor', detail: 'is not a cursor returned by this API' }],
  });
}

/** The shape of every list response. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
