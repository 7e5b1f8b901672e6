import { pageInCreationOrder } from '../common/created-order-page';
import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { IdentityEventTypes, INVALID_API_KEY_REASON, type ApiKeyCreatedV1, type ApiKeyRevokedV1 } from '@tessera/contracts';
import { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, TenantTransactions, type IdempotencyOutcome } from '@tessera/persistence';
import { NotFoundProblem, UnauthorizedProblem } from '@tessera/service-kit';
import { DataSource, IsNull } from 'typeorm';
import { digestsEqual, randomSecret, sha256 } from '../crypto/secrets';
import type { ApiKeyDto, ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto, VerifiedApiKeyDto } from './dto/api-key.dto';
import { lockUsersForCaller } from '../users/caller-under-lock';
import type { Actor } from '../users/users.service';
import { ApiKeyEntity } from './api-key.entity';

/** `tsk_<12 hex: lookup prefix>_<43 base64url: 256-bit secret>` */
const KEY_FORMAT = /^tsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function toApiKeyDto(k: ApiKeyEntity): ApiKeyDto {
  return {
    id: k.id,
    name: k.name,
    scopes: k.scopes,
    prefix: `tsk_${k.prefix}`,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt ? k.revokedAt.toISOString() : null,
  };
}

interface KeyLookupRow {
  api_key_id: string;
  tenant_id: string;
  scopes: string[];
  key_hash: Buffer;
  revoked_at: Date | null;
  tenant_status: string;
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  /**
   * With an `Idempotency-Key` (validated by the controller), a repeat replays the first 201 without the secret: the
   * replay store never holds a usable API key, so a replay answers `{id, key: null, keyRedacted: true}`. A client
   * that lost the first response learns which key was created (revoke it, create another), and no second key exists.
   */
  async create(actor: Actor, dto: CreateApiKeyDto, idempotencyKey?: string): Promise<IdempotencyOutcome<CreatedApiKeyDto>> {
    const { tenantId } = actor;
    const prefix = randomBytes(6).toString('hex');
    const key = `tsk_${prefix}_${randomSecret(32)}`;
    const entity: ApiKeyEntity = {
      id: randomUUID(),
      tenantId,
      name: dto.name,
      scopes: [...new Set(dto.scopes)],
      prefix,
      keyHash: sha256(key),
      createdBy: actor.userId,
      createdAt: new Date(),
      revokedAt: null,
    };
    const request = { key: idempotencyKey, operation: 'POST /v1/api-keys', body: dto };
    const redacted = (body: CreatedApiKeyDto): CreatedApiKeyDto => ({ id: body.id, key: null, keyRedacted: true });
    return this.idempotency.perform(
      tenantId,
      request,
      async (tx) => {
        // A key outlives its creator's role: the creator must still be an active owner or admin as this commits.
        await lockUsersForCaller(tx, actor, 'shared');
        await tx.manager.insert(ApiKeyEntity, entity);
        await this.outbox.append<ApiKeyCreatedV1>(tx, {
          type: IdentityEventTypes.ApiKeyCreated,
          subject: entity.id,
          data: { apiKeyId: entity.id, tenantId, name: entity.name, scopes: entity.scopes },
        });
        return { status: 201, body: { id: entity.id, key } };
      },
      { stored: redacted },
    );
  }

  async list(tenantId: string, query: { limit: number; cursor?: string }): Promise<ApiKeyListDto> {
    return this.transactions.run(tenantId, async (tx) => {
      return pageInCreationOrder(tx.manager, ApiKeyEntity, query, toApiKeyDto);
    });
  }

  async revoke(actor: Actor, id: string): Promise<void> {
    const { tenantId } = actor;
    await this.transactions.run(tenantId, async (tx) => {
      await lockUsersForCaller(tx, actor, 'shared');
      const key = await tx.manager.findOneBy(ApiKeyEntity, { id });
      if (!key) throw new NotFoundProblem(`API key ${id} not found`);
      if (key.revokedAt) return; // revoking twice changes nothing and emits nothing
      // Only the request whose update took the row emits: concurrent revocations all read it unrevoked, and the
      // others' updates, waiting on its row lock, find revokedAt set and change nothing.
      const { affected } = await tx.manager.update(ApiKeyEntity, { id: key.id, revokedAt: IsNull() }, { revokedAt: new Date() });
      if (affected !== 1) return;
      await this.outbox.append<ApiKeyRevokedV1>(tx, {
        type: IdentityEventTypes.ApiKeyRevoked,
        subject: key.id,
        data: { apiKeyId: key.id, tenantId },
      });
    });
  }

  /** Resolves a presented key for the gateway; every failure is the same 401. */
  async verify(key: string): Promise<VerifiedApiKeyDto> {
    const match = KEY_FORMAT.exec(key);
    if (!match) throw invalidKey();
    // SECURITY DEFINER lookup by the non-secret prefix; the tenant is what we are resolving (see the migration).
    const rows: KeyLookupRow[] = await this.dataSource.query('SELECT * FROM identity.find_api_key($1)', [match[1]]);
    const row = rows[0];
    if (!row || !digestsEqual(row.key_hash, sha256(key)) || row.revoked_at) throw invalidKey();
    return { apiKeyId: row.api_key_id, tenantId: row.tenant_id, scopes: row.scopes, tenantStatus: row.tenant_status };
  }
}

/** The 401 of a key that is not valid, told apart by its reason from a 401 refusing the caller (the gateway). */
function invalidKey(): UnauthorizedProblem {
  return new UnauthorizedProblem('API key is not valid', { extensions: { reason: INVALID_API_KEY_REASON } });
}
