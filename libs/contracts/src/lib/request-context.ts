import type { Role } from './roles';

/**
 * Who is calling, as established by the gateway. The gateway forwards it to services as a short-lived
 * token in the `x-tessera-context` header (HS256, signed with the receiving service's key, issuer
 * `tessera-gateway`, audience `tessera-services`, 60 s lifetime); services refuse calls without it.
 */
export interface CallerContext {
  /** Request id set by the gateway (also sent as `x-request-id`). */
  requestId: string;
  /** Absent only for anonymous public routes (signup, login, refresh). */
  tenantId?: string;
  /** User id for JWT callers, API key id for API-key callers. */
  principalId?: string;
  /**
   * `internal`: the platform itself (the gateway's own calls to identity, the operator tools), the only caller
   * `/internal/...` routes take; the gateway never signs it for a client's request, anonymous ones included.
   */
  principalType: 'user' | 'api_key' | 'anonymous' | 'internal';
  roles: Role[];
  /** API key scopes; empty for users. */
  scopes: string[];
}

export const CONTEXT_HEADER = 'x-tessera-context';
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * The `reason` of identity's 401 to `POST /internal/api-keys/verify` when the key itself is unknown, revoked or
 * malformed. Any other 401 or 403 there refuses the gateway's own credential, which says nothing about the key.
 */
export const INVALID_API_KEY_REASON = 'invalid_api_key';
