import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsUuid, NotBlank } from '@tessera/service-kit';
import { IsIn, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { CHANNELS, type Channel } from '../channel-credentials';

export class CreateStoreDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ enum: CHANNELS })
  @IsIn(CHANNELS)
  channel!: Channel;

  @ApiPropertyOptional({
    description:
      'Per channel: bricklink {consumerKey, consumerSecret, tokenValue, tokenSecret}; brickowl {apiKey}; shopee {partnerId, partnerKey, shopId}; ' +
      'tiktok_shop {appKey, appSecret, accessToken}; custom_website {baseUrl, apiKey}; storefront none. Write-only.',
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  @IsOptional()
  @IsObject()
  credentials?: Record<string, unknown>;

  @ApiPropertyOptional({ format: 'uuid', description: 'mall tenants: the vendor selling through this store' })
  @IsOptional()
  @IsUuid()
  vendorId?: string;
}

export class StoreDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: CHANNELS }) channel!: Channel;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) vendorId!: string | null;
  @ApiProperty({ type: [String], description: 'names of the credential fields that are set' })
  credentialsSet!: string[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class StoreListDto {
  @ApiProperty({ type: [StoreDto] }) items!: StoreDto[];
  @ApiProperty({ type: String, nullable: true, description: 'the cursor of the next page; null on the last' }) nextCursor!: string | null;
}
