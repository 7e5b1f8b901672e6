import type { TenantTransactions, TenantTx } from '@tessera/persistence';
import { isUuid } from '@tessera/persistence';
import { InventoryError, invalid, notFound, pgCode, unknownLocation } from './errors';
import { pageLimit, type KeysetPage } from './keyset-page';

export type LocationType = 'warehouse' | 'bin';

export interface Location {
  id: string;
  code: string;
  name: string;
  parentId: string | null;
  type: LocationType;
  priority: number;
  pickSequence: number;
  createdAt: Date;
}

/** Where a page of locations ends, in list order `(priority, code)` (unique: code is unique per tenant). */
export interface LocationPosition {
  priority: number;
  code: string;
}

export type LocationPage = KeysetPage<Location, LocationPosition>;

export interface CreateLocation {
  code: string;
  name: string;
  parentId?: string | null;
  type?: LocationType;
  /** Allocation order: lower is allocated first. */
  priority?: number;
  pickSequence?: number;
}

interface LocationRow {
  id: string;
  code: string;
  name: string;
  parent_id: string | null;
  type: LocationType;
  priority: number;
  pick_sequence: number;
  created_at: Date;
}

const COLUMNS = 'id, code, name, parent_id, type, priority, pick_sequence, created_at';
const toLocation = (r: LocationRow): Location => ({
  id: r.id,
  code: r.code,
  name: r.name,
  parentId: r.parent_id,
  type: r.type,
  priority: r.priority,
  pickSequence: r.pick_sequence,
  createdAt: r.created_at,
});

const smallInt = (v: unknown, field: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1_000_000) {
    throw invalid(`invalid_${field}`, `${field} must be an integer from 0 to 1000000`);
  }
  return v;
};

export class LocationService {
  constructor(private readonly tenants: TenantTransactions) {}

  async create(tenantId: string, input: CreateLocation): Promise<Location> {
    const valid = validLocation(input);
    return this.tenants.run(tenantId, (tx) => insertLocation(tx, valid));
  }

  /** `create` inside the caller's transaction (one that also stores an Idempotency-Key response, say). */
  async createIn(tx: TenantTx, input: CreateLocation): Promise<Location> {
    return insertLocation(tx, validLocation(input));
  }

  /** One page in allocation order `(priority, code)`, after `after` (keyset, so a page never repeats or skips a row). */
  page(tenantId: string, opts: { after?: LocationPosition; limit?: number } = {}): Promise<LocationPage> {
    const limit = pageLimit(opts.limit);
    const after = opts.after;
    if (after !== undefined && (!Number.isInteger(after.priority) || typeof after.code !== 'string')) throw invalid('invalid_cursor', 'cursor is not valid');
    return this.tenants.run(tenantId, async (tx) => {
      const rows: LocationRow[] = await tx.manager.query(
        `SELECT ${COLUMNS} FROM locations
         WHERE $1::integer IS NULL OR (priority, code COLLATE "C") > ($1::integer, $2::text COLLATE "C")
         ORDER BY priority, code COLLATE "C" LIMIT $3`,
        [after?.priority ?? null, after?.code ?? null, limit + 1],
      );
      const items = rows.slice(0, limit).map(toLocation);
      const last = items[items.length - 1];
      return { items, next: rows.length > limit && last ? { priority: last.priority, code: last.code } : null };
    });
  }

  async get(tenantId: string, id: string): Promise<Location> {
    if (!isUuid(id)) throw notFound('location', id);
    const rows: LocationRow[] = await this.tenants.run(tenantId, (tx) => tx.manager.query(`SELECT ${COLUMNS} FROM locations WHERE id = $1`, [id]));
    if (rows.length === 0) throw notFound('location', id);
    return toLocation(rows[0]);
  }
}

type ValidLocation = Required<Omit<CreateLocation, 'parentId'>> & { parentId: string | null };

function validLocation(input: CreateLocation): ValidLocation {
  const code = input.code;
  if (typeof code !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(code)) {
    throw invalid('invalid_code', 'code must be 1 to 64 letters, digits, dots, dashes or underscores');
  }
  // Characters (code points), as the DTO and the table's CHECK count them, not UTF-16 units.
  if (typeof input.name !== 'string' || input.name.trim().length === 0 || [...input.name].length > 200) {
    throw invalid('invalid_name', 'name must be 1 to 200 characters');
  }
  const type = input.type ?? 'warehouse';
  if (type !== 'warehouse' && type !== 'bin') throw invalid('invalid_type', 'type must be warehouse or bin');
  const parentId = input.parentId ?? null;
  if (parentId !== null && !isUuid(parentId)) throw unknownLocation(String(parentId));
  if (type === 'bin' && parentId === null) throw invalid('parent_required', 'a bin needs a parentId: the warehouse it belongs to', { locationType: type });
  const priority = smallInt(input.priority ?? 100, 'priority');
  const pickSequence = smallInt(input.pickSequence ?? 0, 'pickSequence');
  return { code, name: input.name.trim(), type, parentId, priority, pickSequence };
}

/**
 * The hierarchy: a bin sits in a warehouse (never at the top, never in a bin); a warehouse sits at the top or in
 * another warehouse (a site's buildings or zones), never in a bin. The parent must be one of this tenant's locations
 * (RLS hides the others, so theirs is as unknown as a missing one: 422 unknown_location). Cycles cannot arise: a location gets its
 * parent only when it is created, the parent must already exist, ids are the server's, and nothing changes a parent
 * or a type afterwards. The parent is read `FOR SHARE`, so it cannot change under this insert should that ever exist.
 */
async function checkParent(tx: TenantTx, l: ValidLocation): Promise<void> {
  if (l.parentId === null) return;
  const rows: { type: LocationType }[] = await tx.manager.query(`SELECT type FROM locations WHERE id = $1 FOR SHARE`, [l.parentId]);
  if (rows.length === 0) throw unknownLocation(l.parentId);
  const parent = rows[0];
  if (parent.type !== 'warehouse') {
    throw invalid('invalid_parent', `a ${l.type} cannot sit in a ${parent.type}: the parent of a ${l.type} must be a warehouse`, {
      // Not `type`: that member of a problem+json body is the problem's type.
      locationType: l.type,
      parentId: l.parentId,
      parentType: parent.type,
    });
  }
}

async function insertLocation(tx: TenantTx, l: ValidLocation): Promise<Location> {
  await checkParent(tx, l);
  try {
    // The workers find tenants with inventory through this index (it holds ids only, no RLS).
    await tx.manager.query(`INSERT INTO known_tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, [tx.tenantId]);
    const [row]: LocationRow[] = await tx.manager.query(
      `INSERT INTO locations (code, name, parent_id, type, priority, pick_sequence) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${COLUMNS}`,
      [l.code, l.name, l.parentId, l.type, l.priority, l.pickSequence],
    );
    return toLocation(row);
  } catch (e) {
    // The failed statement aborts the transaction; the caller's rollback follows this error.
    if (pgCode(e) === '23505') throw new InventoryError('conflict', 'location_code_taken', `location code ${l.code} already exists`, { locationCode: l.code });
    // The composite (tenant_id, parent_id) key: another tenant's location is as unknown as a missing one.
    if (pgCode(e) === '23503') throw unknownLocation(String(l.parentId));
    throw e;
  }
}
