import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { IdentityEventTypes, type UserCreatedV1 } from '@tessera/contracts';
import { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, type IdempotencyOutcome } from '@tessera/persistence';
import { ConflictProblem } from '@tessera/service-kit';
import { uniqueViolation } from '../common/db-errors';
import { tenantCreated } from '../common/identity-events';
import { hashPassword } from '../crypto/passwords';
import { UserEntity } from '../users/user.entity';
import { toUserDto } from '../users/users.service';
import type { UserDto } from '../users/dto/user.dto';
import type { CreateTenantDto, TenantDto } from './dto/create-tenant.dto';
import { TenantEntity } from './tenant.entity';
import { canonicalEmail } from '../common/email';
import { uuidFromHash } from '../common/uuid-from-hash';

export const DEFAULT_PLAN = 'free';

export interface SignupResult {
  tenant: TenantDto;
  user: UserDto;
}

export function toTenantDto(t: TenantEntity): TenantDto {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    type: t.type,
    defaultCurrency: t.defaultCurrency,
    status: t.status,
    plan: t.plan,
  };
}

@Injectable()
export class TenantsService {
  constructor(
    private readonly idempotency: IdempotencyKeys,
    private readonly outbox: OutboxWriter,
  ) {}

  /**
   * Self-service signup: the tenant, its owner and both events in one transaction. The ids are chosen here so
   * the transaction can be scoped to the new tenant from the start and RLS applies to every insert.
   *
   * Idempotency-Key: keys are scoped to a tenant, and a signup has none yet, so the key is scoped to the tenant it
   * names by its slug: the tenant id is a keyed hash of key and slug (the keyed hash the store fingerprints bodies
   * with, so no one without identity's secret can tell which id they lead to). A resent signup thus claims the key in
   * the tenant its first attempt created and gets the first 201 back; the same key and slug with another body
   * (another password, say) gets 422; another client's signup with the same key but its own slug is another scope.
   * Once the key has expired (24 h) a resend finds its tenant's id taken: the slug is, as without a key, 409.
   */
  async signup(dto: CreateTenantDto, idempotencyKey?: string): Promise<IdempotencyOutcome<SignupResult>> {
    const tenantId = idempotencyKey === undefined ? randomUUID() : this.tenantIdFor(idempotencyKey, dto.slug);
    const now = new Date();
    const tenant: TenantEntity = {
      id: tenantId,
      name: dto.name,
      slug: dto.slug,
      type: dto.type ?? 'single_brand',
      defaultCurrency: (dto.defaultCurrency ?? 'USD').toUpperCase(),
      plan: DEFAULT_PLAN,
      status: 'trial',
      settings: {},
      createdAt: now,
    };
    const owner: UserEntity = {
      id: randomUUID(),
      tenantId,
      email: canonicalEmail(dto.owner.email),
      name: dto.owner.name,
      role: 'owner',
      passwordHash: await hashPassword(dto.owner.password),
      status: 'active',
      createdAt: now,
      updatedAt: now,
    };
    const request = { key: idempotencyKey, operation: 'POST /v1/tenants', body: dto };
    try {
      return await this.idempotency.perform(tenantId, request, async (tx) => {
        // settings start as the column default ('{}'); a jsonb of unknown shape does not fit insert()'s typing.
        const { settings: _settings, ...row } = tenant;
        await tx.manager.insert(TenantEntity, row);
        await tx.manager.insert(UserEntity, owner);
        await this.outbox.append(tx, tenantCreated(tenant));
        await this.outbox.append<UserCreatedV1>(tx, {
          type: IdentityEventTypes.UserCreated,
          subject: owner.id,
          data: { userId: owner.id, tenantId, email: owner.email, name: owner.name, role: owner.role },
        });
        return { status: 201, body: { tenant: toTenantDto(tenant), user: toUserDto(owner) } };
      });
    } catch (e) {
      const constraint = uniqueViolation(e);
      if (constraint === 'tenants_slug_key' || constraint === 'tenants_pkey')
        throw new ConflictProblem(`slug "${dto.slug}" is taken`, { extensions: { reason: 'slug_taken' } });
      if (constraint === 'users_email_key')
        throw new ConflictProblem('a user with this email already exists', { extensions: { reason: 'email_taken' } });
      throw e;
    }
  }

  /** The tenant id a signup's Idempotency-Key and slug lead to: their keyed hash, as a UUID. */
  private tenantIdFor(idempotencyKey: string, slug: string): string {
    return uuidFromHash(this.idempotency.fingerprint('signup tenant id', { key: idempotencyKey, slug }));
  }
}
