import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Injectable } from '@nestjs/common';
import type { ProductStatus } from '@tessera/contracts';
import { OutboxWriter, type OutboxEventInput } from '@tessera/messaging';
import { IdempotencyKeys, TenantTransactions, type IdempotencyOutcome, type TenantTx } from '@tessera/persistence';
import { ConflictProblem, NotFoundProblem, PreconditionFailedProblem, ValidationProblem, type FieldError } from '@tessera/service-kit';
import { In } from 'typeorm';
import { assertVendorOfMall } from '../identity/identity-read-model';
import { effectiveStatus, productArchived, productCreated, productUpdated, variantCreated, variantUpdated } from './catalog-events';
import { MAX_VARIANTS, type CreateProductDto, type ProductDto, type ProductPageDto, type UpdateProductDto } from './dto/product.dto';
import { ifMatchAllows, productEtag } from './product-etag';
import { ProductEntity, type ProductImage } from './product.entity';
import { searchProductIds, type ProductSearch } from './product-search';
import { toProductDto } from './product-view';
import { assertSkusFree, duplicateSkuErrors, isSkuConflict } from './sku-conflicts';
import { VariantEntity } from './variant.entity';
import { compareAtProblem, fieldError, newVariant, patchVariant } from './variant-patch';

function notFound(id: string): NotFoundProblem {
  return new NotFoundProblem(`product ${id} does not exist`);
}

function images(list: { url: string; alt?: string | null }[] | undefined): ProductImage[] {
  return (list ?? []).map((i) => ({ url: i.url, alt: i.alt ?? null }));
}

/** Products and variants of one tenant; every change writes its catalog events to the outbox in the same transaction. */
@Injectable()
export class ProductsService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  /** With an `Idempotency-Key` (validated by the controller), a repeat replays the first 201. */
  async create(tenantId: string, dto: CreateProductDto, idempotencyKey?: string): Promise<IdempotencyOutcome<ProductDto>> {
    const now = new Date();
    const product: ProductEntity = {
      id: randomUUID(),
      tenantId,
      vendorId: dto.vendorId ?? null,
      title: dto.title,
      description: dto.description ?? null,
      status: dto.status ?? 'active',
      attributes: dto.attributes ?? {},
      images: images(dto.images),
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    const variants = dto.variants.map((v, i) => newVariant(v, { tenantId, productId: product.id }, i, now));
    const errors = variants.map((v, i) => compareAtProblem(v, `variants.${i}`)).filter((e): e is FieldError => e !== null);
    errors.push(...duplicateSkuErrors(variants.map((v, i) => ({ sku: v.sku, path: `variants.${i}` }))));
    if (errors.length) throw new ValidationProblem(errors);

    const request = { key: idempotencyKey, operation: 'POST /v1/products', body: dto };
    const create = () =>
      this.idempotency.perform(tenantId, request, async (tx) => {
        if (product.vendorId !== null) await assertVendorOfMall(tx, product.vendorId);
        await assertSkusFree(tx, variants.map((v) => v.sku));
        await tx.manager.insert(ProductEntity, product);
        await tx.manager.insert(VariantEntity, bySku(variants));
        await this.outbox.appendAll<unknown>(tx, [productCreated(product), ...variants.map((v) => variantCreated(v, product.status))]);
        return { status: 201, body: toProductDto(product, variants) };
      });
    return this.refusingTakenSkus(tenantId, create, () => variants.map((v) => v.sku));
  }

  // Reads of a product and its variants take one snapshot (REPEATABLE READ): under READ COMMITTED a change
  // committed between the two statements showed new variants with the old product's status.
  async get(tenantId: string, id: string): Promise<ProductDto> {
    return this.transactions.run(
      tenantId,
      async (tx) => {
        const product = await tx.manager.findOneBy(ProductEntity, { id });
        if (!product) throw notFound(id);
        return toProductDto(product, await tx.manager.findBy(VariantEntity, { productId: id }));
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  async list(tenantId: string, search: ProductSearch): Promise<ProductPageDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const page = await searchProductIds(tx, search);
      if (page.ids.length === 0) return { items: [], nextCursor: page.nextCursor };
      const products = await tx.manager.findBy(ProductEntity, { id: In(page.ids) });
      const variants = await tx.manager.findBy(VariantEntity, { productId: In(page.ids) });
      const byId = new Map(products.map((p) => [p.id, p]));
      const items = page.ids
        .map((id) => byId.get(id))
        .filter((p): p is ProductEntity => p !== undefined)
        .map((p) => toProductDto(p, variants.filter((v) => v.productId === p.id)));
      return { items, nextCursor: page.nextCursor };
    }, { isolation: 'REPEATABLE READ' });
  }

  /** `ifMatch`: the request's If-Match header, when it has one; a product changed since that tag gets a 412. */
  async update(tenantId: string, id: string, dto: UpdateProductDto, ifMatch?: string): Promise<ProductDto> {
    const addedSkus = (dto.variants ?? []).filter((v) => v.id === undefined).map((v) => v.sku as string);
    return this.write(tenantId, async (tx) => {
      const { product, variants } = await this.lock(tx, id, ifMatch);
      const now = new Date();
      const previousStatus = product.status;
      const changed = this.applyProductFields(product, dto);

      const errors: FieldError[] = [];
      const seenIds = new Set<string>();
      const variantChanges = new Map<string, string[]>();
      const current = new Map(variants.map((v) => [v.id, v]));
      const added: VariantEntity[] = [];
      const addedSkus: { sku: string; path: string }[] = [];
      let position = variants.reduce((max, v) => Math.max(max, v.position), -1) + 1;
      (dto.variants ?? []).forEach((entry, i) => {
        const path = `variants.${i}`;
        if (entry.id === undefined) {
          const variant = newVariant(entry, { tenantId, productId: id }, position++, now);
          const problem = compareAtProblem(variant, path);
          if (problem) errors.push(problem);
          added.push(variant);
          addedSkus.push({ sku: variant.sku, path });
          return;
        }
        if (entry.sku !== undefined) errors.push(fieldError(`${path}.sku`, 'a SKU never changes: archive this variant and add a new one'));
        // Ids as PostgreSQL writes them: a variant id sent in upper case is the same variant.
        const variantId = entry.id.toLowerCase();
        if (seenIds.has(variantId)) errors.push(fieldError(`${path}.id`, 'this variant appears twice in the request'));
        seenIds.add(variantId);
        const existing = current.get(variantId);
        if (!existing) {
          errors.push(fieldError(`${path}.id`, 'is not a variant of this product'));
          return;
        }
        const { next, changed: fields } = patchVariant(existing, entry);
        const problem = compareAtProblem(next, path);
        if (problem) errors.push(problem);
        if (fields.length) {
          current.set(next.id, next);
          variantChanges.set(next.id, fields);
        }
      });
      errors.push(...duplicateSkuErrors(addedSkus));
      if (variants.length + added.length > MAX_VARIANTS) {
        errors.push(fieldError('variants', `a product has at most ${MAX_VARIANTS} variants`));
      }
      if (errors.length) throw new ValidationProblem(errors);
      if (typeof dto.vendorId === 'string') await assertVendorOfMall(tx, dto.vendorId);
      await assertSkusFree(tx, added.map((v) => v.sku));

      // A product status change moves every variant's effective status: buyers and read models must hear of it.
      for (const v of current.values()) {
        if (effectiveStatus(previousStatus, v.status) !== effectiveStatus(product.status, v.status)) {
          const fields = variantChanges.get(v.id) ?? [];
          if (!fields.includes('status')) variantChanges.set(v.id, [...fields, 'status']);
        }
      }
      if (changed.length === 0 && variantChanges.size === 0 && added.length === 0) {
        return toProductDto(product, variants);
      }

      const events: OutboxEventInput<unknown>[] = [];
      if (changed.length) {
        product.version += 1;
        product.updatedAt = now;
        await tx.manager.update(ProductEntity, { id }, this.productColumns(product));
        const archivedNow = product.status === 'archived' && previousStatus !== 'archived';
        if (!archivedNow || changed.some((f) => f !== 'status')) events.push(productUpdated(product, changed));
        if (archivedNow) events.push(productArchived(product));
      }
      for (const [variantId, fields] of variantChanges) {
        const v = current.get(variantId) as VariantEntity;
        v.version += 1;
        v.updatedAt = now;
        await tx.manager.update(VariantEntity, { id: variantId }, this.variantColumns(v));
        events.push(variantUpdated(v, product.status, fields));
      }
      if (added.length) {
        await tx.manager.insert(VariantEntity, bySku(added));
        events.push(...added.map((v) => variantCreated(v, product.status)));
      }
      await this.outbox.appendAll(tx, events);
      return toProductDto(product, [...current.values(), ...added]);
    }, () => addedSkus);
  }

  /** Archiving is idempotent: an archived product is returned as it is, with no new events. */
  async archive(tenantId: string, id: string, ifMatch?: string): Promise<ProductDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const { product, variants } = await this.lock(tx, id, ifMatch);
      if (product.status === 'archived') return toProductDto(product, variants);
      const previous: ProductStatus = product.status;
      const now = new Date();
      product.status = 'archived';
      product.version += 1;
      product.updatedAt = now;
      await tx.manager.update(ProductEntity, { id }, this.productColumns(product));
      const events: OutboxEventInput<unknown>[] = [productArchived(product)];
      for (const v of variants) {
        if (effectiveStatus(previous, v.status) === 'archived') continue;
        v.version += 1;
        v.updatedAt = now;
        await tx.manager.update(VariantEntity, { id: v.id }, { version: v.version, updatedAt: now });
        events.push(variantUpdated(v, product.status, ['status']));
      }
      await this.outbox.appendAll(tx, events);
      return toProductDto(product, variants);
    });
  }

  /**
   * A tenant transaction whose unique-SKU violation (a concurrent writer took a SKU between our check and our
   * insert) becomes the same 409 as the pre-check: once that writer has committed, re-checking names the SKU.
   */
  private write<T>(tenantId: string, work: (tx: TenantTx) => Promise<T>, newSkus: () => string[]): Promise<T> {
    return this.refusingTakenSkus(tenantId, () => this.transactions.run(tenantId, work), newSkus);
  }

  /** `attempt` (one tenant transaction, perhaps behind an Idempotency-Key), its SKU race answered as in `write`. */
  private async refusingTakenSkus<T>(tenantId: string, attempt: () => Promise<T>, newSkus: () => string[]): Promise<T> {
    try {
      return await attempt();
    } catch (error) {
      if (!isSkuConflict(error)) throw error;
      await this.transactions.run(tenantId, (tx) => assertSkusFree(tx, newSkus()));
      throw new ConflictProblem('a SKU of this request was taken by a concurrent change', { extensions: { reason: 'sku_taken' } });
    }
  }

  /** The product row locked for this transaction (concurrent changes of one product apply one after the other). */
  /** The product, locked, and its variants; with `ifMatch`, only while the product is still as that tag says. */
  private async lock(tx: TenantTx, id: string, ifMatch?: string): Promise<{ product: ProductEntity; variants: VariantEntity[] }> {
    const product = await tx.manager.findOne(ProductEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!product) throw notFound(id);
    const variants = await tx.manager.find(VariantEntity, { where: { productId: id }, order: { position: 'ASC' } });
    if (ifMatch !== undefined && !ifMatchAllows(ifMatch, productEtag(product, variants))) {
      throw new PreconditionFailedProblem('The product has changed since the version named in If-Match; read it again and reapply the change', {
        extensions: { reason: 'product_changed' },
      });
    }
    return { product, variants };
  }

  /** Applies the product-level fields of a patch in place; returns the names of the fields that really changed. */
  private applyProductFields(product: ProductEntity, dto: UpdateProductDto): string[] {
    const changed: string[] = [];
    const set = <K extends keyof ProductEntity>(field: K, value: ProductEntity[K] | undefined) => {
      if (value === undefined || isDeepStrictEqual(value, product[field])) return;
      product[field] = value;
      changed.push(field);
    };
    set('title', dto.title);
    set('description', dto.description);
    set('status', dto.status);
    set('vendorId', dto.vendorId);
    set('attributes', dto.attributes);
    set('images', dto.images === undefined ? undefined : images(dto.images));
    return changed;
  }

  private productColumns(p: ProductEntity): Partial<ProductEntity> {
    return {
      title: p.title,
      description: p.description,
      status: p.status,
      vendorId: p.vendorId,
      attributes: p.attributes,
      images: p.images,
      version: p.version,
      updatedAt: p.updatedAt,
    };
  }

  private variantColumns(v: VariantEntity): Partial<VariantEntity> {
    return {
      priceAmount: v.priceAmount,
      currency: v.currency,
      compareAtAmount: v.compareAtAmount,
      fulfillment: v.fulfillment,
      weightGrams: v.weightGrams,
      options: v.options,
      status: v.status,
      version: v.version,
      updatedAt: v.updatedAt,
    };
  }
}

/**
 * Variants in SKU order, for inserting: two writers adding overlapping SKUs then take the unique index's entries in
 * the same order, so the second waits for the first and gets the SKU conflict (409), where opposite orders
 * deadlocked (a 500). Their display order is `position`, not the insert order.
 */
function bySku(variants: VariantEntity[]): VariantEntity[] {
  return [...variants].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}
