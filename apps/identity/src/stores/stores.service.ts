import { pageInCreationOrder } from '../common/created-order-page';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { IdentityEventTypes, type StoreCreatedV1 } from '@tessera/contracts';
import { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, TenantTransactions, type IdempotencyOutcome } from '@tessera/persistence';
import { jsonPointer, NotFoundProblem, UnprocessableProblem, ValidationProblem } from '@tessera/service-kit';
import { CredentialsCipher } from '../crypto/credentials-cipher';
import { VendorEntity } from '../vendors/vendor.entity';
import { validateChannelCredentials } from './channel-credentials';
import type { CreateStoreDto, StoreDto, StoreListDto } from './dto/store.dto';
import { StoreEntity } from './store.entity';

export function toStoreDto(s: StoreEntity): StoreDto {
  return {
    id: s.id,
    name: s.name,
    channel: s.channel,
    vendorId: s.vendorId,
    credentialsSet: s.credentialsSet,
    createdAt: s.createdAt.toISOString(),
  };
}

/** Ties a credentials ciphertext to its row: moved to another store or tenant, it no longer decrypts. */
export function credentialsAad(tenantId: string, storeId: string): string {
  return `identity.stores:${tenantId}:${storeId}`;
}

@Injectable()
export class StoresService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly cipher: CredentialsCipher,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  /** With an `Idempotency-Key` (validated by the controller), a repeat replays the first 201 (no credentials in it). */
  async create(tenantId: string, dto: CreateStoreDto, idempotencyKey?: string): Promise<IdempotencyOutcome<StoreDto>> {
    const errors = validateChannelCredentials(dto.channel, dto.credentials);
    if (errors.length > 0) {
      throw new ValidationProblem(
        errors.map((e) => ({
          field: e.field,
          // 'credentials.<key>': the key is the client's and may hold '.', '/' or '~'.
          pointer: jsonPointer(e.field === 'credentials' ? ['credentials'] : ['credentials', e.field.slice('credentials.'.length)]),
          detail: `${e.field} ${e.message}`,
        })),
        `credentials are not valid for channel ${dto.channel}`,
      );
    }
    const id = randomUUID();
    const credentials = dto.credentials ?? {};
    const fields = Object.keys(credentials).sort();
    const store: StoreEntity = {
      id,
      tenantId,
      vendorId: dto.vendorId ?? null,
      name: dto.name,
      channel: dto.channel,
      credentialsEncrypted:
        fields.length > 0 ? this.cipher.encrypt(JSON.stringify(credentials), credentialsAad(tenantId, id)) : null,
      credentialsSet: fields,
      createdAt: new Date(),
    };
    const request = { key: idempotencyKey, operation: 'POST /v1/stores', body: dto };
    return this.idempotency.perform(tenantId, request, async (tx) => {
      if (store.vendorId) {
        // RLS hides other tenants' vendors, so a foreign vendor id reads as unknown. 422, as every service answers a
        // well-formed id in a body that names nothing of the tenant's (catalog's vendorId, inventory's locationId).
        const vendor = await tx.manager.findOneBy(VendorEntity, { id: store.vendorId });
        if (!vendor) {
          throw new UnprocessableProblem('vendorId does not name a vendor of this tenant', {
            extensions: { reason: 'unknown_vendor', vendorId: store.vendorId },
          });
        }
      }
      await tx.manager.insert(StoreEntity, store);
      await this.outbox.append<StoreCreatedV1>(tx, {
        type: IdentityEventTypes.StoreCreated,
        subject: id,
        data: { storeId: id, tenantId, name: store.name, channel: store.channel, vendorId: store.vendorId },
      });
      return { status: 201, body: toStoreDto(store) };
    });
  }

  async list(tenantId: string, query: { limit: number; cursor?: string }): Promise<StoreListDto> {
    return this.transactions.run(tenantId, async (tx) => {
      return pageInCreationOrder(tx.manager, StoreEntity, query, toStoreDto);
    });
  }

  async get(tenantId: string, id: string): Promise<StoreDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const store = await tx.manager.findOneBy(StoreEntity, { id });
      if (!store) throw new NotFoundProblem(`store ${id} not found`);
      return toStoreDto(store);
    });
  }

  /** Decrypted credentials for channel sync code inside identity; never exposed over HTTP. */
  async credentialsOf(tenantId: string, id: string): Promise<Record<string, string> | null> {
    return this.transactions.run(tenantId, async (tx) => {
      const row = await tx.manager
        .createQueryBuilder(StoreEntity, 's')
        .addSelect('s.credentialsEncrypted')
        .where('s.id = :id', { id })
        .getOne();
      if (!row) throw new NotFoundProblem(`store ${id} not found`);
      if (!row.credentialsEncrypted) return null;
      return JSON.parse(this.cipher.decrypt(row.credentialsEncrypted, credentialsAad(tenantId, id))) as Record<
        string,
        string
      >;
    });
  }
}
