import { Body, Controller, Get, Post, Query, Res, UseInterceptors } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import {
  ApiIdempotencyKey,
  Caller,
  IdempotencyKey,
  idempotentReply,
  Roles,
  Scopes,
  UnprocessableProblem,
  type ReplyTarget,
} from '@tessera/service-kit';
import { InventoryRead } from './access';
import { InventoryDomain, type AdjustReason, type Movement } from '../domain';
import { ledgerCursor, levelCursor } from './cursors';
import { LedgerEntryDto, LedgerPageDto, LedgerQueryDto } from './dto/ledger.dto';
import { CreateMovementDto, LevelListDto, LevelsQueryDto, MovementResultDto, StockLevelDto } from './dto/movement.dto';
import { InventoryErrorInterceptor } from './problems';
import { actorOf, tenantOf } from './tenant-of';

@ApiTags('inventory')
@Controller('v1/inventory')
@UseInterceptors(InventoryErrorInterceptor)
export class StockController {
  constructor(private readonly inventory: InventoryDomain) {}

  /** A movement that would leave on hand below zero or below reserved answers 409 and changes nothing. */
  @Post('movements')
  @ApiOperation({
    summary: 'Record a stock movement',
    description:
      'Receives, adjusts or transfers stock and writes the ledger in the same transaction. ' +
      'A movement that would leave on hand below zero or below what is reserved is refused with 409 and changes nothing.',
  })
  @Roles('owner', 'admin', 'manager', 'staff')
  @Scopes('inventory:write')
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: MovementResultDto })
  @ApiConflictResponse({
    description:
      'nothing changed: `insufficient_stock` (on hand would fall below zero or below reserved), `on_hand_changed` ' +
      '(expectedOnHand no longer holds), `stock_limit_exceeded`; or the Idempotency-Key\'s first request is still running',
  })
  @ApiUnprocessableEntityResponse({
    description:
      '`unknown_sku` (not in the catalog, or not yet learned from its events), `unknown_location` (locationId or toLocationId is not ' +
      "one of the tenant's locations), a field that does not fit the type, or the Idempotency-Key reused with another body",
  })
  async move(
    @Caller() caller: CallerContext,
    @Body() dto: CreateMovementDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<MovementResultDto> {
    const movement = toMovement(dto);
    const request = { key: idempotencyKey, operation: 'POST /v1/inventory/movements', body: dto };
    const outcome = await this.inventory.idempotency.perform(tenantOf(caller), request, async (tx) => {
      const { levels } = await this.inventory.movements.applyIn(tx, movement, actorOf(caller));
      return { status: 201, body: { type: dto.type, levels: levels.map(StockLevelDto.of) } };
    });
    return idempotentReply(res, outcome);
  }

  /** Keyset pages in `(sku, locationId, condition)` order: `limit` 1 to 100 (default 20), `cursor` = the previous `nextCursor`. */
  @InventoryRead()
  @Get('levels')
  @ApiOperation({ summary: 'List stock levels' })
  @ApiOkResponse({ type: LevelListDto })
  @ApiBadRequestResponse({ description: 'a cursor this API did not return, or a limit outside 1 to 100 (problem+json)' })
  async levels(@Caller() caller: CallerContext, @Query() q: LevelsQueryDto): Promise<LevelListDto> {
    const after = levelCursor.decode(q.cursor);
    const page = await this.inventory.queries.levelPage(tenantOf(caller), { sku: q.sku, locationId: q.locationId, after, limit: q.limit });
    return { items: page.items.map(StockLevelDto.of), nextCursor: levelCursor.encode(page.next) };
  }

  @InventoryRead()
  @Get('ledger')
  @ApiOperation({
    summary: 'List stock ledger entries',
    description: 'Newest first. Every change to a stock level writes one entry, and entries are never changed or deleted.',
  })
  @ApiOkResponse({ type: LedgerPageDto })
  async ledger(@Caller() caller: CallerContext, @Query() q: LedgerQueryDto): Promise<LedgerPageDto> {
    const page = await this.inventory.queries.ledger(tenantOf(caller), { sku: q.sku, limit: q.limit, after: ledgerCursor.decode(q.cursor) });
    return { items: page.items.map(LedgerEntryDto.of), nextCursor: ledgerCursor.encode(page.next) };
  }
}

/** The DTO as the domain's movement; a field that belongs to another movement type is refused, not ignored. */
function toMovement(dto: CreateMovementDto): Movement {
  if (dto.type !== 'transfer' && dto.toLocationId !== undefined) throw new UnprocessableProblem('toLocationId is only for transfers');
  if (dto.type !== 'adjust' && dto.reason !== undefined) throw new UnprocessableProblem('reason is only for adjustments');
  const base = { sku: dto.sku, locationId: dto.locationId, quantity: dto.quantity, condition: dto.condition, expectedOnHand: dto.expectedOnHand };
  switch (dto.type) {
    case 'transfer':
      return { ...base, type: 'transfer', toLocationId: dto.toLocationId as string };
    case 'adjust':
      return { ...base, type: 'adjust', reason: dto.reason as AdjustReason };
    default:
      return { ...base, type: 'receive' };
  }
}
