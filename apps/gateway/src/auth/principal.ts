import { ROLES, type Role } from '@tessera/contracts';

/** An authenticated caller, before it becomes a caller context for one request. */
export interface Principal {
  tenantId: string;
  /** User id for tokens, API key id for keys. */
  principalId: string;
  principalType: 'user' | 'api_key';
  roles: Role[];
  scopes: string[];
}

const KNOWN_ROLES = new Set<string>(ROLES);

/** Keeps the known roles of a `roles` array or a single `role`; anything else is dropped, never trusted. */
export function parseRoles(roles: unknown, role?: unknown): Role[] {
  const candidates = Array.isArray(roles) ? roles : typeof role === 'string' ? [role] : [];
  return candidates.filter((r): r is Role => typeof r === 'string' && KNOWN_ROLES.has(r));
}

export function parseScopes(scopes: unknown): string[] {
  if (typeof scopes === 'string') return scopes.split(' ').filter(Boolean);
  return Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [];
}
