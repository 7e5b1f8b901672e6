/** The roles of DESIGN.md, the union of the source products' roles. */
export const ROLES = [
  'owner',
  'admin',
  'manager',
  'sales',
  'project_manager',
  'staff',
  'picker',
  'viewer',
  'client',
] as const;
export type Role = (typeof ROLES)[number];

/** Every role of the tenant's own people: all but `client` (a customer), for back-office reads. */
export const STAFF_ROLES: readonly Role[] = ROLES.filter((role) => role !== 'client');
