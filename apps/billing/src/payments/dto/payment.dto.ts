import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PAYMENT_METHODS, PAYMENT_STATUSES, type PaymentMethod, type PaymentStatus } from '@tessera/contracts';
import { IsUuid, PageQueryDto } from '@tessera/service-kit';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

export class ListPaymentsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUuid()
  orderId?: string;

  @ApiPropertyOptional({ enum: PAYMENT_STATUSES })
  @IsOptional()
  @IsIn(PAYMENT_STATUSES)
  status?: PaymentStatus;

  @ApiPropertyOptional({ type: Boolean, description: 'true: only payments whose money must be paid back (late money, see refundReason)' })
  @IsOptional()
  // Spelt out: the implicit conversion of query strings would read "false" as true.
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'refundRequired must be true or false' })
  refundRequired?: boolean;
}

export class FailPaymentDto {
  @ApiPropertyOptional({ maxLength: 500, description: 'why the payment failed, e.g. "card declined"' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

export class PaymentHistoryEntryDto {
  @ApiProperty({ enum: PAYMENT_STATUSES, nullable: true, type: String }) from!: PaymentStatus | null;
  @ApiProperty({ enum: PAYMENT_STATUSES }) to!: PaymentStatus;
  @ApiProperty() refundRequired!: boolean;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'staff user or API key that acted' }) actorId!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'type of the event that caused the change' }) causeEventType!: string | null;
  @ApiProperty({ nullable: true, type: String }) causeEventId!: string | null;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

export class PaymentDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) orderId!: string;
  @ApiProperty({ type: 'integer', minimum: 1, description: "1 for the order's first payment, then one more per retry of a failed one" }) attempt!: number;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'the failed payment this one tries again' }) retryOf!: string | null;
  @ApiProperty({ type: 'integer', format: 'int64', description: 'minor units' }) amount!: number;
  @ApiProperty({ example: 'JPY' }) currency!: string;
  @ApiProperty({ enum: PAYMENT_METHODS }) method!: PaymentMethod;
  @ApiProperty({ enum: PAYMENT_STATUSES }) status!: PaymentStatus;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'null for cash on delivery (due at delivery)' }) dueAt!: string | null;
  @ApiProperty({ description: 'money was confirmed for an order that ended: it must be refunded' }) refundRequired!: boolean;
  @ApiProperty({ nullable: true, type: String }) refundReason!: string | null;
  @ApiProperty({ nullable: true, type: String }) failureReason!: string | null;
  @ApiProperty({ nullable: true, type: String }) cancelReason!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) confirmedAt!: string | null;
}

export class PaymentDetailDto extends PaymentDto {
  @ApiProperty({ type: [PaymentHistoryEntryDto] }) history!: PaymentHistoryEntryDto[];
}

export class PaymentListDto {
  @ApiProperty({ type: [PaymentDto] }) items!: PaymentDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}
