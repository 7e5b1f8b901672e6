import { applyDecorators } from '@nestjs/common';
import { STAFF_ROLES } from '@tessera/contracts';
import { Roles, Scopes } from '@tessera/service-kit';

/**
 * Inventory's reads: a staff user (not a customer: stock, its ledger and the settings are the back office's), or an
 * API key with `inventory:read` (a storefront showing availability).
 */
export const InventoryRead = () => applyDecorators(Roles(...STAFF_ROLES), Scopes('inventory:read'));

/** Inventory's configuration writes (locations, hot SKUs, reorder policies): managers and up, or `inventory:write` keys. */
export const InventoryManage = () => applyDecorators(Roles('owner', 'admin', 'manager'), Scopes('inventory:write'));
