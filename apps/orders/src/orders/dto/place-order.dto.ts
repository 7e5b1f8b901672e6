import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PAYMENT_METHODS, type PaymentMethod } from '@tessera/contracts';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsISO31661Alpha2,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export const MAX_LINES = 100;

/** Refuses a string of spaces where a value is required: it would be stored, and printed on a label, as given. */
const NotBlank = () => Matches(/\S/, { message: ({ property }) => `${property} must not be blank` });
export const MAX_QUANTITY = 10_000;

export class OrderLineDto {
  @ApiProperty({ maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  sku!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_QUANTITY })
  @IsInt()
  @Min(1)
  @Max(MAX_QUANTITY)
  quantity!: number;
}

export class CustomerDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ maxLength: 254, format: 'email' })
  @IsEmail()
  @MaxLength(254)
  email!: string;
}

export class ShippingAddressDto {
  @ApiProperty({ maxLength: 200 }) @IsString() @NotBlank() @MaxLength(200) name!: string;
  @ApiProperty({ maxLength: 200 }) @IsString() @NotBlank() @MaxLength(200) line1!: string;
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @IsString() @MaxLength(200) line2?: string;
  @ApiProperty({ maxLength: 100 }) @IsString() @NotBlank() @MaxLength(100) city!: string;
  @ApiPropertyOptional({ maxLength: 100, description: 'state, prefecture or province' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  region?: string;
  @ApiProperty({ maxLength: 20 }) @IsString() @NotBlank() @MaxLength(20) postalCode!: string;
  @ApiProperty({ description: 'ISO 3166-1 alpha-2, upper case', example: 'JP' })
  @IsString()
  @Matches(/^[A-Z]{2}$/, { message: 'country must be an ISO 3166-1 alpha-2 code in upper case' })
  @IsISO31661Alpha2({ message: 'country must be an assigned ISO 3166-1 alpha-2 code' })
  country!: string;
  @ApiPropertyOptional({ maxLength: 40 }) @IsOptional() @IsString() @MaxLength(40) phone?: string;
}

export class PlaceOrderDto {
  @ApiProperty({ type: [OrderLineDto], minItems: 1, maxItems: MAX_LINES })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LINES)
  // Without it class-validator walked into a nested array, and [[{...}]] reached the SKU checks as a line.
  @IsObject({ each: true, message: 'each item must be an object {sku, quantity}' })
  @ValidateNested({ each: true })
  @Type(() => OrderLineDto)
  items!: OrderLineDto[];

  @ApiProperty({ type: CustomerDto })
  @IsObject()
  @ValidateNested()
  @Type(() => CustomerDto)
  customer!: CustomerDto;

  @ApiPropertyOptional({ type: ShippingAddressDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ShippingAddressDto)
  shippingAddress?: ShippingAddressDto;

  @ApiProperty({ enum: PAYMENT_METHODS })
  @IsIn(PAYMENT_METHODS)
  paymentMethod!: PaymentMethod;
}

export class CancelOrderDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}
