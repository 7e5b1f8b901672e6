import { pageInCreationOrder } from '../common/created-order-page';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, TenantTransactions, type IdempotencyOutcome, type TenantTx } from '@tessera/persistence';
import { ConflictProblem } from '@tessera/service-kit';
import { vendorCreated } from '../common/identity-events';
import { TenantEntity } from '../tenants/tenant.entity';
import type { CreateVendorDto, VendorDto, VendorListDto } from './dto/vendor.dto';
import { VendorEntity } from './vendor.entity';

export function toVendorDto(v: VendorEntity): VendorDto {
  return { id: v.id, name: v.name, commissionRate: v.commissionRate, createdAt: v.createdAt.toISOString() };
}

@Injectable()
export class VendorsService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly idempotency: IdempotencyKeys,
    private readonly outbox: OutboxWriter,
  ) {}

  /** With an `Idempotency-Key` (validated by the controller), a repeat replays the first 201. */
  async create(tenantId: string, dto: CreateVendorDto, idempotencyKey?: string): Promise<IdempotencyOutcome<VendorDto>> {
    const request = { key: idempotencyKey, operation: 'POST /v1/vendors', body: dto };
    return this.idempotency.perform(tenantId, request, async (tx) => {
      await this.assertMall(tx);
      const vendor: VendorEntity = {
        id: randomUUID(),
        tenantId,
        name: dto.name,
        commissionRate: dto.commissionRate,
        createdAt: new Date(),
      };
      await tx.manager.insert(VendorEntity, vendor);
      // Same transaction as the row: the catalog learns this tenant's vendors from it (products' vendorId).
      await this.outbox.append(tx, vendorCreated(vendor));
      return { status: 201, body: toVendorDto(vendor) };
    });
  }

  async list(tenantId: string, query: { limit: number; cursor?: string }): Promise<VendorListDto> {
    return this.transactions.run(tenantId, async (tx) => {
      await this.assertMall(tx);
      return pageInCreationOrder(tx.manager, VendorEntity, query, toVendorDto);
    });
  }

  /** Vendors exist only in `mall` tenants: a single brand sells its own goods. */
  private async assertMall(tx: TenantTx): Promise<void> {
    const tenant = await tx.manager.findOneByOrFail(TenantEntity, { id: tx.tenantId });
    if (tenant.type !== 'mall')
      throw new ConflictProblem('vendors exist only for tenants of type mall', {
        extensions: { reason: 'not_a_mall' },
      });
  }
}
