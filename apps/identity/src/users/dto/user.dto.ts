import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ROLES, type Role } from '@tessera/contracts';
import { NotBlank } from '@tessera/service-kit';
import { IsEmail, IsIn, IsString, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { PASSWORD_MAX, PASSWORD_MIN } from '../../tenants/dto/create-tenant.dto';
import { USER_STATUSES } from '../user.entity';

export class CreateUserDto {
  @ApiProperty({ example: 'picker@example.com', maxLength: 254 })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;

  @ApiProperty({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
  @IsString()
  @MinLength(PASSWORD_MIN)
  @MaxLength(PASSWORD_MAX)
  password!: string;
}

/** `PATCH /v1/users/{id}`: absent fields stay as they are; neither can be cleared, so `null` is refused. */
export class UpdateUserDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @ValidateIf((o: UpdateUserDto) => o.name !== undefined)
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ enum: ROLES })
  @ValidateIf((o: UpdateUserDto) => o.role !== undefined)
  @IsIn(ROLES)
  role?: Role;
}

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ enum: USER_STATUSES }) status!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class UserPageDto {
  @ApiProperty({ type: [UserDto] }) items!: UserDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
