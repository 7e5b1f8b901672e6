import { ApiProperty } from '@nestjs/swagger';
import { NotBlank } from '@tessera/service-kit';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';

export class CreateVendorDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ type: 'integer', description: 'basis points kept by the mall (1000 = 10%)', minimum: 0, maximum: 10000 })
  @IsInt()
  @Min(0)
  @Max(10000)
  commissionRate!: number;
}

export class VendorDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: 'integer', description: 'basis points kept by the mall (1000 = 10%)' }) commissionRate!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class VendorListDto {
  @ApiProperty({ type: [VendorDto] }) items!: VendorDto[];
  @ApiProperty({ type: String, nullable: true, description: 'the cursor of the next page; null on the last' }) nextCursor!: string | null;
}
