import type { Role } from '@tessera/contracts';

/** Roles that may change the catalog; every tenant role may read it. */
export const CATALOG_WRITE_ROLES: Role[] = ['owner', 'admin', 'manager', 'staff'];
/** API keys (ops services) write the catalog with this scope. */
export const CATALOG_WRITE_SCOPE = 'catalog:write';
