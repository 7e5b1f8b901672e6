import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class LoginDto {
  @ApiProperty({ example: 'owner@example.com' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(254)
  email!: string;

  @ApiProperty()
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  password!: string;
}

export class RefreshDto {
  @ApiProperty()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  refreshToken!: string;
}

export class TokenPairDto {
  @ApiProperty({ description: 'ES256 JWT, 15 minutes' }) accessToken!: string;
  @ApiProperty({ description: 'opaque, single use' }) refreshToken!: string;
  @ApiProperty({ example: 'Bearer' }) tokenType!: 'Bearer';
  @ApiProperty({ type: 'integer', description: 'access token lifetime in seconds', example: 900 }) expiresIn!: number;
}

/** A public signing key of the JWKS (RFC 7517): an EC P-256 key for ES256 access tokens. */
export class JwkDto {
  @ApiProperty({ enum: ['EC'] }) kty!: 'EC';
  @ApiProperty({ enum: ['P-256'] }) crv!: 'P-256';
  @ApiProperty({ description: 'x coordinate, base64url' }) x!: string;
  @ApiProperty({ description: 'y coordinate, base64url' }) y!: string;
  @ApiProperty({ description: "matches the access token's `kid` header" }) kid!: string;
  @ApiProperty({ enum: ['sig'] }) use!: 'sig';
  @ApiProperty({ enum: ['ES256'] }) alg!: 'ES256';
}

export class JwksDto {
  @ApiProperty({ type: [JwkDto], description: 'the signing key first, then keys kept so that older tokens still verify' })
  keys!: JwkDto[];
}
