import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PAYMENT_METHODS, type OrderStatus, type PaymentMethod } from '@tessera/contracts';
import { IsIn, IsOptional } from 'class-validator';
import { PageQueryDto } from '@tessera/service-kit';
import { ORDER_STATUSES } from '../order-status';

export class PlacedOrderDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
}

export class OrderItemDto {
  @ApiProperty() line!: number;
  @ApiProperty() sku!: string;
  @ApiProperty({ format: 'uuid' }) variantId!: string;
  @ApiProperty() quantity!: number;
  @ApiProperty({ description: 'minor units' }) unitPriceAmount!: number;
  @ApiProperty({ description: 'minor units' }) lineTotalAmount!: number;
  @ApiProperty({ enum: ['new', 'used'], description: 'the stock condition the line is reserved from' }) condition!: 'new' | 'used';
}

export class OrderTotalsDto {
  @ApiProperty() currency!: string;
  @ApiProperty({ description: 'minor units' }) subtotalAmount!: number;
  @ApiProperty({ description: 'minor units' }) totalAmount!: number;
}

export class HistoryCauseDto {
  @ApiProperty({ enum: ['api', 'event'] }) type!: 'api' | 'event';
  @ApiPropertyOptional() actor?: string;
  @ApiPropertyOptional({ format: 'uuid' }) eventId?: string;
  @ApiPropertyOptional() eventType?: string;
}

export class HistoryEntryDto {
  @ApiProperty({ nullable: true, enum: ORDER_STATUSES }) from!: OrderStatus | null;
  @ApiProperty({ nullable: true, enum: ORDER_STATUSES, description: 'null for a noted event that moved nothing' })
  to!: OrderStatus | null;
  @ApiProperty() at!: string;
  @ApiProperty({ type: HistoryCauseDto }) cause!: HistoryCauseDto;
  @ApiPropertyOptional() note?: string;
}

export class OrderSummaryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: OrderStatus;
  @ApiProperty({ type: OrderTotalsDto }) totals!: OrderTotalsDto;
  @ApiProperty({ enum: PAYMENT_METHODS }) paymentMethod!: PaymentMethod;
  @ApiProperty() customer!: { name: string; email: string };
  @ApiPropertyOptional({ format: 'uuid' }) paymentId?: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class OrderDto extends OrderSummaryDto {
  @ApiProperty({ type: [OrderItemDto] }) items!: OrderItemDto[];
  @ApiPropertyOptional() shippingAddress?: Record<string, unknown>;
  @ApiPropertyOptional() reservation?: { id: string; expiresAt: string | null };
  @ApiPropertyOptional() rejectionReasons?: unknown[];
  @ApiPropertyOptional() cancelReason?: string;
  @ApiProperty({ type: [HistoryEntryDto] }) history!: HistoryEntryDto[];
}

export class OrderListDto {
  @ApiProperty({ type: [OrderSummaryDto] }) items!: OrderSummaryDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}

export class ListOrdersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ORDER_STATUSES })
  @IsOptional()
  @IsIn(ORDER_STATUSES)
  status?: OrderStatus;
}
