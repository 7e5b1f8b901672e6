import type { ProductStatus } from '@tessera/contracts';
import type { TenantTx } from '@tessera/persistence';
import { decodeCursor, encodeCursor, invalidCursor } from '@tessera/service-kit';
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

// A cursor names the last product of its page by id (and, in a search, its tier); its `seq` is looked up again. The
// sequence is shared by every tenant, so a cursor carrying it would tell a tenant how many products all the others
// have created in between.
const cursorSchema = z.object({ id: z.string().uuid(), tier: z.number().int().min(0).max(2).optional() });

/** The list position of the tenant's product `id`; a product of another tenant (hidden by RLS) is no position. */
async function seqOf(tx: TenantTx, id: string): Promise<string> {
  const rows: { seq: string }[] = await tx.manager.query(`SELECT seq FROM catalog.products WHERE tenant_id = $1 AND id = $2`, [tx.tenantId, id]);
  if (rows.length === 0) throw invalidCursor();
  return rows[0].seq;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

/** Search text written in websearch syntax beyond plain words: a quoted phrase, `OR`, or a `-word` among words. */
function hasSearchSyntax(q: string): boolean {
  return /\s/.test(q) && /"|(^|\s)-\S|\sor\s/i.test(q);
}

/**
 * One page of product ids, keyset-paginated (stable under inserts, no OFFSET scans). Without `q`, newest first on
 * `seq`. With `q`, ranked in three tiers, newest first within each:
 * 0. a SKU equal to `q` (ignoring case): the product someone typed the SKU of;
 * 1. the search document (title and description in English, SKUs as-is) matches the words of `q` (websearch
 *    syntax: quotes, OR, -word among words; a single `-token` is a word or a part of a SKU), or a SKU contains `q`
 *    (ILIKE);
 * 2. a SKU is only trigram-similar to `q` (pg_trgm `%`): mistyped SKUs, and SKUs of the same family.
 * Text in websearch syntax is read as words only, in English: the unstemmed ('simple') reading and the SKU matches
 * would let `plate -bricks` find a plate that "stacks on bricks" (the negation holds for `bricks` but not `brick`).
 * The SKU matches use the trigram GIN index on variants.sku. RLS limits rows to the tenant; the explicit tenant
 * filter lets the planner use the (tenant_id, seq) indexes.
 */
export async function searchProductIds(tx: TenantTx, search: ProductSearch): Promise<ProductIdPage> {
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = [`p.tenant_id = ${param(tx.tenantId)}`];
  if (search.status) where.push(`p.status = ${param(search.status)}`);
  const cursor = search.cursor ? decodeCursor(search.cursor, cursorSchema) : null;
  const after = cursor ? { tier: cursor.tier, seq: await seqOf(tx, cursor.id.toLowerCase()) } : null;
  const q = search.q?.trim();
  let from = 'catalog.products p';
  let tier: string | null = null;
  if (q) {
    const text = param(q);
    const hits = hasSearchSyntax(q)
      ? [`SELECT s.id, 1 AS tier FROM catalog.products s WHERE s.search_document @@ websearch_to_tsquery('english', ${text})`]
      : [
          `SELECT v.product_id, 0 FROM catalog.variants v WHERE v.sku ILIKE ${param(escapeLike(q))}`,
          // Plain words: a leading `-` here is part of a SKU (`-RED`), which websearch_to_tsquery would read as
          // a negation and match every product without the word.
          `SELECT s.id, 1 FROM catalog.products s
            WHERE s.search_document @@ (plainto_tsquery('english', ${text}) || plainto_tsquery('simple', ${text}))`,
          `SELECT v.product_id, 1 FROM catalog.variants v WHERE v.sku ILIKE ${param(`%${escapeLike(q)}%`)}`,
          `SELECT v.product_id, 2 FROM catalog.variants v WHERE v.sku OPERATOR(public.%) ${text}`,
        ];
    // Each branch on its own index (GIN on search_document, trigram GIN on sku); an OR across the tables could
    // only be answered by filtering every product of the tenant.
    from = `catalog.products p JOIN (SELECT id, min(tier) AS tier FROM (${hits.join(' UNION ALL ')}) h(id, tier) GROUP BY id) h ON h.id = p.id`;
    tier = 'h.tier';
  }
  if (after && tier) {
    const [t, seq] = [param(after.tier ?? 0), param(after.seq)];
    where.push(`(${tier} > ${t} OR (${tier} = ${t} AND p.seq < ${seq}))`);
  } else if (after) {
    where.push(`p.seq < ${param(after.seq)}`);
  }
  const rows: { id: string; seq: string; tier: number | null }[] = await tx.manager.query(
    `SELECT p.id, p.seq, ${tier ?? 'NULL::int'} AS tier FROM ${from} WHERE ${where.join(' AND ')}
      ORDER BY ${tier ? `${tier}, ` : ''}p.seq DESC LIMIT ${param(search.limit + 1)}`,
    params,
  );
  const page = rows.slice(0, search.limit);
  const last = page[page.length - 1];
  return {
    ids: page.map((r) => r.id),
    nextCursor: rows.length > search.limit && last ? encodeCursor({ id: last.id, ...(q ? { tier: Number(last.tier) } : {}) }) : null,
  };
}
