import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { LedgerEntry } from '../../domain';

export class LedgerQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(128)
  sku?: string;

  @ApiPropertyOptional({ description: 'the nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  cursor?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class LedgerEntryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() sku!: string;
  @ApiProperty({ format: 'uuid' }) locationId!: string;
  @ApiProperty() condition!: string;
  @ApiProperty({ description: 'receive, adjust, transfer_out, transfer_in, reserve, release, expire, commit' }) type!: string;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty({ type: 'integer', description: 'change of on hand' }) delta!: number;
  @ApiProperty({ type: 'integer' }) deltaReserved!: number;
  @ApiProperty({ type: 'integer', description: 'on hand before' }) before!: number;
  @ApiProperty({ type: 'integer', description: 'on hand after' }) after!: number;
  @ApiProperty({ type: 'integer' }) reservedBefore!: number;
  @ApiProperty({ type: 'integer' }) reservedAfter!: number;
  @ApiProperty({ type: String, nullable: true }) actor!: string | null;
  @ApiProperty({ type: String, nullable: true }) correlationId!: string | null;
  @ApiProperty({ type: String, nullable: true }) reference!: string | null;
  @ApiProperty({ format: 'date-time' }) at!: string;

  static of(e: LedgerEntry): LedgerEntryDto {
    const { stockLevelId: _stockLevelId, ...rest } = e;
    return { ...rest, at: e.at.toISOString() };
  }
}

export class LedgerPageDto {
  @ApiProperty({ type: [LedgerEntryDto] }) items!: LedgerEntryDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
