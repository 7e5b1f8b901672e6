import { isUuid } from '@tessera/persistence';
import { decodeCursor, encodeCursor } from '@tessera/service-kit';
import { z } from 'zod';
import type { LevelPosition, LocationPosition } from '../domain';

// Opaque cursors (base64url JSON, service-kit's codec) of the keyset lists. A cursor that does not decode to a
// position of the right shape is a 400 problem; the checks keep anything PostgreSQL would refuse (a NUL, a bad
// uuid, an out-of-range integer) from reaching it as a 500.
const text = (max: number) => z.string().min(1).max(max).refine((s) => !s.includes('\u0000'));

const levelPosition = z.object({
  sku: text(128),
  locationId: z.string().refine(isUuid),
  condition: z.enum(['new', 'used']),
});

const locationPosition = z.object({
  priority: z.number().int().min(-2147483648).max(2147483647),
  code: text(64),
});

export const levelCursor = {
  encode: (p: LevelPosition | null): string | null => (p === null ? null : encodeCursor({ sku: p.sku, locationId: p.locationId, condition: p.condition })),
  decode: (cursor: string | undefined): LevelPosition | undefined => (cursor === undefined ? undefined : decodeCursor(cursor, levelPosition)),
};

export const locationCursor = {
  encode: (p: LocationPosition | null): string | null => (p === null ? null : encodeCursor({ priority: p.priority, code: p.code })),
  decode: (cursor: string | undefined): LocationPosition | undefined => (cursor === undefined ? undefined : decodeCursor(cursor, locationPosition)),
};

const ledgerPosition = z.object({ id: z.string().refine(isUuid) });

export const ledgerCursor = {
  encode: (id: string | null): string | null => (id === null ? null : encodeCursor({ id })),
  decode: (cursor: string | undefined): string | undefined => (cursor === undefined ? undefined : decodeCursor(cursor, ledgerPosition).id),
};

const hotSkuPosition = z.object({ sku: text(128) });

export const hotSkuCursor = {
  encode: (sku: string | null): string | null => (sku === null ? null : encodeCursor({ sku })),
  decode: (cursor: string | undefined): string | undefined => (cursor === undefined ? undefined : decodeCursor(cursor, hotSkuPosition).sku),
};
