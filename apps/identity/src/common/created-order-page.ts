import { decodeCursor, encodeCursor, type Page } from '@tessera/service-kit';
import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { z } from 'zod';

const position = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });

/**
 * One page of a tenant's rows in creation order, keyset on (created_at, id): the lists of users, stores, vendors
 * and API keys. A row created meanwhile before the cursor is not shown, none is repeated or skipped; a cursor this
 * API did not return is a 400 (service-kit's decodeCursor). created_at is written from JS (millisecond precision),
 * so the cursor's ISO string round-trips exactly.
 */
export async function pageInCreationOrder<E extends ObjectLiteral & { createdAt: Date; id: string }, D>(
  manager: EntityManager,
  entity: EntityTarget<E>,
  query: { limit: number; cursor?: string },
  toDto: (row: E) => D,
): Promise<Page<D>> {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, position);
  const qb = manager.createQueryBuilder(entity, 'r').orderBy('r.createdAt', 'ASC').addOrderBy('r.id', 'ASC').limit(query.limit + 1);
  if (after) qb.where('(r.created_at, r.id) > (:createdAt, :id)', { createdAt: new Date(after.createdAt), id: after.id });
  const rows = await qb.getMany();
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toDto),
    nextCursor: rows.length > query.limit && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : null,
  };
}
