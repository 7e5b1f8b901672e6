import { Global, Module } from '@nestjs/common';
import { IDEMPOTENCY_KEYS_OPTIONS, IdempotencyKeys, type IdempotencyKeysOptions } from '@tessera/persistence';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';
import { parseEncryptionKeys } from '../crypto/credentials-cipher';
import { idempotencyFingerprintSecret } from '../crypto/fingerprint-secret';

/**
 * The Idempotency-Key store of identity's create routes, with keyed fingerprints (see idempotencyFingerprintSecret).
 * When the first CREDENTIALS_ENCRYPTION_KEYS entry changes, a retry of a request sent before the change gets 422
 * (its fingerprint differs) instead of a replay: a wrong answer for at most 24 h, never a second creation.
 */
@Global()
@Module({
  providers: [
    {
      provide: IDEMPOTENCY_KEYS_OPTIONS,
      inject: [IDENTITY_CONFIG],
      useFactory: (config: IdentityConfig): IdempotencyKeysOptions => ({
        fingerprintSecret: idempotencyFingerprintSecret(parseEncryptionKeys(config.CREDENTIALS_ENCRYPTION_KEYS)),
      }),
    },
    IdempotencyKeys,
  ],
  exports: [IdempotencyKeys],
})
export class IdempotencyModule {}
