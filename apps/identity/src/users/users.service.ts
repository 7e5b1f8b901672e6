import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  IdentityEventTypes,
  type CallerContext,
  type Role,
  type UserCreatedV1,
  type UserDeactivatedV1,
  type UserUpdatedV1,
} from '@tessera/contracts';
import { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, TenantTransactions, type IdempotencyOutcome, type TenantTx } from '@tessera/persistence';
import {
  ConflictProblem,
  ForbiddenProblem,
  NotFoundProblem,
  type Page,
} from '@tessera/service-kit';
import { IsNull } from 'typeorm';
import { pageInCreationOrder } from '../common/created-order-page';
import { uniqueViolation } from '../common/db-errors';
import { hashPassword } from '../crypto/passwords';
import { RefreshTokenEntity } from '../auth/refresh-token.entity';
import { TenantEntity } from '../tenants/tenant.entity';
import type { TenantDto } from '../tenants/dto/create-tenant.dto';
import type { CreateUserDto, UpdateUserDto, UserDto } from './dto/user.dto';
import { lockUsersForCaller } from './caller-under-lock';
import { UserEntity, type UserStatus } from './user.entity';
import { canonicalEmail } from '../common/email';

export function toUserDto(u: UserEntity): UserDto {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    status: u.status,
    createdAt: u.createdAt.toISOString(),
  };
}

/** Tenant-scoped caller: a user of the tenant, acting through the gateway. */
export interface Actor {
  tenantId: string;
  userId: string;
  roles: Role[];
}

export function actorOf(caller: CallerContext): Actor {
  if (caller.principalType !== 'user' || !caller.tenantId || !caller.principalId) {
    throw new ForbiddenProblem('this route needs a signed-in user, not an API key');
  }
  return { tenantId: caller.tenantId, userId: caller.principalId, roles: caller.roles };
}

function isOwner(actor: Actor): boolean {
  return actor.roles.includes('owner');
}

export interface UserStatusDto {
  status: UserStatus;
  role: Role;
}

@Injectable()
export class UsersService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  async me(actor: Actor): Promise<{ user: UserDto; tenant: TenantDto }> {
    return this.transactions.run(actor.tenantId, async (tx) => {
      const user = await this.findOrFail(tx, actor.userId);
      // RLS on `tenants` shows only the caller's own row.
      const tenant = await tx.manager.findOneByOrFail(TenantEntity, { id: actor.tenantId });
      return {
        user: toUserDto(user),
        tenant: {
          id: tenant.id,
          slug: tenant.slug,
          name: tenant.name,
          type: tenant.type,
          defaultCurrency: tenant.defaultCurrency,
          status: tenant.status,
          plan: tenant.plan,
        },
      };
    });
  }

  /** With an `Idempotency-Key` (validated by the controller), a repeat replays the first 201. */
  async create(actor: Actor, dto: CreateUserDto, idempotencyKey?: string): Promise<IdempotencyOutcome<UserDto>> {
    if (dto.role === 'owner' && !isOwner(actor)) throw new ForbiddenProblem('only an owner can create an owner');
    const now = new Date();
    const user: UserEntity = {
      id: randomUUID(),
      tenantId: actor.tenantId,
      email: canonicalEmail(dto.email),
      name: dto.name,
      role: dto.role,
      passwordHash: await hashPassword(dto.password),
      status: 'active',
      createdAt: now,
      updatedAt: now,
    };
    const request = { key: idempotencyKey, operation: 'POST /v1/users', body: dto };
    try {
      return await this.idempotency.perform(actor.tenantId, request, async (tx) => {
        await lockUsersForCaller(tx, actor, 'shared');
        await tx.manager.insert(UserEntity, user);
        await this.outbox.append<UserCreatedV1>(tx, {
          type: IdentityEventTypes.UserCreated,
          subject: user.id,
          data: { userId: user.id, tenantId: user.tenantId, email: user.email, name: user.name, role: user.role },
        });
        return { status: 201, body: toUserDto(user) };
      });
    } catch (e) {
      if (uniqueViolation(e) === 'users_email_key')
        throw new ConflictProblem('a user with this email already exists', { extensions: { reason: 'email_taken' } });
      throw e;
    }
  }

  async list(actor: Actor, limit: number, cursor?: string): Promise<Page<UserDto>> {
    return this.transactions.run(actor.tenantId, (tx) => pageInCreationOrder(tx.manager, UserEntity, { limit, cursor }, toUserDto));
  }

  /** A user's current status and role (for the gateway; InternalUsersController). */
  statusOf(tenantId: string, userId: string): Promise<UserStatusDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const user = await this.findOrFail(tx, userId);
      return { status: user.status, role: user.role };
    });
  }

  async update(actor: Actor, id: string, dto: UpdateUserDto): Promise<UserDto> {
    const updated = await this.transactions.run(actor.tenantId, async (tx) => {
      await lockUsersForCaller(tx, actor, 'exclusive');
      const user = await this.findOrFail(tx, id, true);
      if (!isOwner(actor) && (user.role === 'owner' || dto.role === 'owner')) {
        throw new ForbiddenProblem('only an owner can change an owner or grant the owner role');
      }
      const name = dto.name ?? user.name;
      const role = dto.role ?? user.role;
      // Nothing to change: no write, and no event for a change that did not happen.
      if (name === user.name && role === user.role) return user;
      if (user.role === 'owner' && role !== 'owner') await this.assertAnotherOwner(tx, user.id);
      user.name = name;
      user.role = role;
      user.updatedAt = new Date();
      await tx.manager.update(
        UserEntity,
        { id: user.id },
        { name: user.name, role: user.role, updatedAt: user.updatedAt },
      );
      await this.outbox.append<UserUpdatedV1>(tx, {
        type: IdentityEventTypes.UserUpdated,
        subject: user.id,
        data: { userId: user.id, tenantId: user.tenantId, name: user.name, role: user.role },
      });
      return user;
    });
    return toUserDto(updated);
  }

  async deactivate(actor: Actor, id: string): Promise<UserDto> {
    if (id === actor.userId) throw new ConflictProblem('you cannot deactivate yourself');
    const user = await this.transactions.run(actor.tenantId, async (tx) => {
      await lockUsersForCaller(tx, actor, 'exclusive');
      const target = await this.findOrFail(tx, id, true);
      if (target.role === 'owner' && !isOwner(actor))
        throw new ForbiddenProblem('only an owner can deactivate an owner');
      if (target.status === 'deactivated') return target;
      if (target.role === 'owner') await this.assertAnotherOwner(tx, target.id);
      target.status = 'deactivated';
      target.updatedAt = new Date();
      await tx.manager.update(UserEntity, { id: target.id }, { status: target.status, updatedAt: target.updatedAt });
      // End every session now; access tokens die on their own within their 15 minutes.
      await tx.manager.update(
        RefreshTokenEntity,
        { userId: target.id, revokedAt: IsNull() },
        { revokedAt: new Date() },
      );
      await this.outbox.append<UserDeactivatedV1>(tx, {
        type: IdentityEventTypes.UserDeactivated,
        subject: target.id,
        data: { userId: target.id, tenantId: target.tenantId },
      });
      return target;
    });
    return toUserDto(user);
  }

  private async findOrFail(tx: TenantTx, id: string, lock = false): Promise<UserEntity> {
    // RLS hides other tenants' users, so another tenant's id is simply not found (404, not 403). The lock is NO KEY
    // UPDATE (no user's id changes): a refresh token inserted meanwhile takes KEY SHARE on its user through the foreign
    // key, and under FOR UPDATE a refresh holding its token's row deadlocked with a deactivation revoking it.
    const user = await tx.manager.findOne(UserEntity, {
      where: { id },
      ...(lock ? { lock: { mode: 'for_no_key_update' as const } } : {}),
    });
    if (!user) throw new NotFoundProblem(`user ${id} not found`);
    return user;
  }

  /**
   * Refuses to remove the tenant's last active owner. Callers hold the users lock exclusively (lockUsersForCaller),
   * which is what keeps two concurrent demotions from both passing; the row locks keep the owners as read until
   * commit against writers that do not take it.
   */
  private async assertAnotherOwner(tx: TenantTx, exceptId: string): Promise<void> {
    const owners = await tx.manager.find(UserEntity, {
      where: { role: 'owner', status: 'active' },
      lock: { mode: 'for_no_key_update' }, // as in findOrFail
    });
    if (!owners.some((o) => o.id !== exceptId))
      throw new ConflictProblem('a tenant must keep at least one active owner');
  }
}
