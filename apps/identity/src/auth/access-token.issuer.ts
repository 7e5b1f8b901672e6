import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Role } from '@tessera/contracts';
import { SignJWT, type JWK } from 'jose';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';
import { SIGNING_ALG, type SigningKey } from '../crypto/signing-keys';
import type { TenantStatus } from '../tenants/tenant.entity';

export const ACCESS_TOKEN_ISSUER = 'tessera-identity';
export const ACCESS_TOKEN_AUDIENCE = 'tessera';
export const SIGNING_KEYS = Symbol('SIGNING_KEYS');

export interface AccessClaims {
  userId: string;
  tenantId: string;
  role: Role;
  tenantStatus: TenantStatus;
}

/** Signs access JWTs with the first configured key and publishes all public keys as the JWKS. */
@Injectable()
export class AccessTokenIssuer {
  constructor(
    @Inject(SIGNING_KEYS) private readonly keys: SigningKey[],
    @Inject(IDENTITY_CONFIG) private readonly config: IdentityConfig,
  ) {}

  get ttlSeconds(): number {
    return this.config.ACCESS_TOKEN_TTL_SECONDS;
  }

  async issue(c: AccessClaims): Promise<string> {
    const key = this.keys[0];
    return new SignJWT({ tid: c.tenantId, roles: [c.role], tenant_status: c.tenantStatus })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setSubject(c.userId)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(key.privateKey);
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }
}
