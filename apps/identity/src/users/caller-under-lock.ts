import type { Role } from '@tessera/contracts';
import type { TenantTx } from '@tessera/persistence';
import { UnauthorizedProblem } from '@tessera/service-kit';
import { UserEntity } from './user.entity';

/** The signed-in user a write is decided for, as the access token describes them. */
export interface TokenUser {
  userId: string;
  roles: readonly Role[];
}

/**
 * Refuses a user deactivated, or whose role changed, since their access token was issued (up to 15 minutes ago).
 * ActiveTenantGuard checks it on every identity route; writes that depend on the caller's role check it again under
 * the tenant's users lock (lockUsersForCaller), because the guard's read came before the write's transaction.
 */
export function refuseStaleUser(current: Pick<UserEntity, 'status' | 'role'> | null | undefined, roles: readonly Role[]): void {
  if (!current || current.status !== 'active') throw new UnauthorizedProblem('this user is deactivated');
  if (!roles.includes(current.role))
    throw new UnauthorizedProblem('your role changed since this token was issued: refresh it', { extensions: { reason: 'role_changed' } });
}

/**
 * Orders the writes of one tenant that depend on who may do what. Role changes and deactivations take the lock
 * exclusively (they run one at a time: each locks its target and then every active owner, and crossed orders
 * deadlocked); creating users and API keys and revoking keys take it shared. Then the caller is read again: a
 * demotion or deactivation that committed between the guard's check and this transaction (a POST /v1/users spends
 * tens of milliseconds hashing the password in between) wins, so a demoted owner cannot create an owner, promote
 * itself back or leave with a new API key.
 */
export async function lockUsersForCaller(tx: TenantTx, caller: TokenUser, mode: 'shared' | 'exclusive'): Promise<void> {
  const lock = mode === 'exclusive' ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared';
  await tx.manager.query(`SELECT ${lock}(hashtextextended($1, 0))`, [`tessera.identity.users:${tx.tenantId}`]);
  const current = await tx.manager.findOne(UserEntity, { where: { id: caller.userId }, select: { id: true, status: true, role: true } });
  refuseStaleUser(current, caller.roles);
}
