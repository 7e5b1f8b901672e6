import { applyDecorators } from '@nestjs/common';
import type { Role } from '@tessera/contracts';
import { Roles, Scopes } from '@tessera/service-kit';

/** Every staff role; not `client` (a customer): stock, its ledger and the settings are the back office's. */
const STAFF_ROLES: Role[] = ['owner', 'admin', 'manager', 'sales', 'project_manager', 'staff', 'picker', 'viewer'];

/** Inventory's reads: a staff user, or an API key with `inventory:read` (a storefront showing availability). */
export const InventoryRead = () => applyDecorators(Roles(...STAFF_ROLES), Scopes('inventory:read'));

/** Inventory's configuration writes (locations, hot SKUs, reorder policies): managers and up, or `inventory:write` keys. */
export const InventoryManage = () => applyDecorators(Roles('owner', 'admin', 'manager'), Scopes('inventory:write'));
