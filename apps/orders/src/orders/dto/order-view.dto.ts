import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PAYMENT_METHODS, type OrderStatus, type PaymentMethod } from '@tessera/contracts';
import { IsIn, IsOptional } from 'class-validator';
import { PageQueryDto } from '@tessera/service-kit';
import { ORDER_STATUSES } from '../order-status';
import { CustomerDto, ShippingAddressDto } from './place-order.dto';

export class PlacedOrderDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
}

export class OrderItemDto {
  @ApiProperty({ type: 'integer' }) line!: number;
  @ApiProperty() sku!: string;
  @ApiProperty({ format: 'uuid' }) variantId!: string;
  @ApiProperty({ type: 'integer' }) quantity!: number;
  @ApiProperty({ type: 'integer', format: 'int64', description: 'minor units' }) unitPriceAmount!: number;
  @ApiProperty({ type: 'integer', format: 'int64', description: 'minor units' }) lineTotalAmount!: number;
  @ApiProperty({ enum: ['new', 'used'], description: 'the stock condition the line is reserved from' }) condition!: 'new' | 'used';
}

export class OrderTotalsDto {
  @ApiProperty() currency!: string;
  @ApiProperty({ type: 'integer', format: 'int64', description: 'minor units' }) subtotalAmount!: number;
  @ApiProperty({ type: 'integer', format: 'int64', description: 'minor units' }) totalAmount!: number;
}

export class HistoryCauseDto {
  @ApiProperty({ enum: ['api', 'event'] }) type!: 'api' | 'event';
  @ApiProperty({ nullable: true, type: String, description: 'who called the API (`user:<id>` or `api_key:<id>`); null for an event' })
  actor!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'the event that caused the change; null for an API call' })
  eventId!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'its type; null for an API call' }) eventType!: string | null;
}

export class HistoryEntryDto {
  @ApiProperty({ nullable: true, enum: ORDER_STATUSES }) from!: OrderStatus | null;
  @ApiProperty({ nullable: true, enum: ORDER_STATUSES, description: 'null for a noted event that moved nothing' })
  to!: OrderStatus | null;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: HistoryCauseDto }) cause!: HistoryCauseDto;
  @ApiProperty({ nullable: true, type: String, description: 'what a change that moved nothing noted (e.g. a refund due); else null' })
  note!: string | null;
}

/** The reservation inventory holds for the order (set when inventory confirmed it). */
export class OrderReservationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'when the stock is released unless the order is paid; null when inventory sent no readable time',
  })
  expiresAt!: string | null;
}

/** Why inventory could not reserve the order, as the saga stores it (OrderRejectionReasonV1 of orders.order.rejected). */
export class RejectionReasonDto {
  @ApiProperty({ description: "the SKU short of stock, or '*' when inventory named none", example: 'BLUE-2' }) sku!: string;
  @ApiProperty({ example: 'insufficient stock: 4 requested, 1 available' }) reason!: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'the line of the order (items[].line), when the SKU is on one' })
  line?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'units the line asked for' }) requested?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'units inventory had for it' }) available?: number;
}

export class OrderSummaryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: OrderStatus;
  @ApiProperty({ type: OrderTotalsDto }) totals!: OrderTotalsDto;
  @ApiProperty({ enum: PAYMENT_METHODS }) paymentMethod!: PaymentMethod;
  // The request's DTOs: the order keeps the customer and address as they were placed (validated, unknown fields refused).
  @ApiProperty({ type: CustomerDto }) customer!: CustomerDto;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'once billing has opened it' }) paymentId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class OrderDto extends OrderSummaryDto {
  @ApiProperty({ type: [OrderItemDto] }) items!: OrderItemDto[];
  @ApiProperty({ type: ShippingAddressDto, nullable: true }) shippingAddress!: ShippingAddressDto | null;
  @ApiProperty({ type: OrderReservationDto, nullable: true, description: 'once inventory has reserved the stock' }) reservation!: OrderReservationDto | null;
  @ApiProperty({ type: [RejectionReasonDto], nullable: true, description: 'when the order was rejected' }) rejectionReasons!: RejectionReasonDto[] | null;
  @ApiProperty({ type: String, nullable: true }) cancelReason!: string | null;
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
