import type { ProductStatus } from '@tessera/contracts';
import type { TenantTx } from '@tessera/persistence';
import { decodeCursor, encodeCursor } from '@tessera/service-kit';
import { z } from 'zod';

export interface ProductSearch {
  q?: string;
  status?: ProductStatus;
  cursor?: string;
  limit: number;
}

export interface ProductIdPage {
  ids: string[];
  nextCursor: string | null;
}

const cursorSchema = z.object({ seq: z.number().int().positive() });

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

/**
 * One page of product ids, newest first, keyset-paginated on `seq` (stable under inserts, no OFFSET scans).
 * `q` matches a product when either
 * - its search document (title and description in English, SKUs as-is) matches the words of `q` (websearch
 *   syntax: quotes, OR, -word), or
 * - one of its SKUs contains `q` (ILIKE) or is trigram-similar to it (pg_trgm `%`): partial and mistyped SKUs;
 *   both use the trigram GIN index on variants.sku.
 * RLS limits rows to the tenant; the explicit tenant filter lets the planner use the (tenant_id, seq) indexes.
 */
export async function searchProductIds(tx: TenantTx, search: ProductSearch): Promise<ProductIdPage> {
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = [`p.tenant_id = ${param(tx.tenantId)}`];
  if (search.status) where.push(`p.status = ${param(search.status)}`);
  const q = search.q?.trim();
  if (q) {
    const text = param(q);
    const contains = param(`%${escapeLike(q)}%`);
    // A UNION of the two index paths (GIN on search_document, trigram GIN on sku) rather than an OR across
    // tables, which the planner could only answer by filtering every product of the tenant.
    where.push(`p.id IN (
      SELECT s.id FROM catalog.products s
      WHERE s.search_document @@ (websearch_to_tsquery('english', ${text}) || websearch_to_tsquery('simple', ${text}))
      UNION
      SELECT v.product_id FROM catalog.variants v
      WHERE v.sku ILIKE ${contains} OR v.sku OPERATOR(public.%) ${text}
    )`);
  }
  if (search.cursor) where.push(`p.seq < ${param(decodeCursor(search.cursor, cursorSchema).seq)}`);
  const rows: { id: string; seq: string }[] = await tx.manager.query(
    `SELECT p.id, p.seq FROM catalog.products p WHERE ${where.join(' AND ')} ORDER BY p.seq DESC LIMIT ${param(search.limit + 1)}`,
    params,
  );
  const page = rows.slice(0, search.limit);
  const last = page[page.length - 1];
  return {
    ids: page.map((r) => r.id),
    nextCursor: rows.length > search.limit && last ? encodeCursor({ seq: Number(last.seq) }) : null,
  };
}
