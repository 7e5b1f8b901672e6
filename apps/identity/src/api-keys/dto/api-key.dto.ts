import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NotBlank } from '@tessera/service-kit';
import { ArrayMaxSize, IsArray, IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';

export class CreateApiKeyDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;

  // Each scope at most 200 characters: services refuse a caller context carrying a longer one.
  @ApiProperty({ type: [String], example: ['inventory:write', 'orders:read'], maxItems: 50 })
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  @Matches(/^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*)*$/, {
    each: true,
    message: 'each scope must look like "resource:action"',
  })
  scopes!: string[];
}

export class VerifyApiKeyDto {
  @ApiProperty()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  key!: string;
}

export class CreatedApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, nullable: true, description: 'shown once; store it now (null in an Idempotency-Key replay)' })
  key!: string | null;
  @ApiPropertyOptional({ description: 'true in an Idempotency-Key replay: the secret is never stored for replays' })
  keyRedacted?: boolean;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ description: 'non-secret start of the key, to recognise it' }) prefix!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: string | null;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] }) items!: ApiKeyDto[];
  @ApiProperty({ type: String, nullable: true, description: 'the cursor of the next page; null on the last' }) nextCursor!: string | null;
}

export class VerifiedApiKeyDto {
  @ApiProperty({ format: 'uuid' }) apiKeyId!: string;
  @ApiProperty({ format: 'uuid' }) tenantId!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ enum: ['trial', 'active', 'suspended'] }) tenantStatus!: string;
}
