import { Global, Module } from '@nestjs/common';
import { SIGNING_KEYS } from '../auth/access-token.issuer';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';
import { CredentialsCipher, parseEncryptionKeys } from './credentials-cipher';
import { loadSigningKeys } from './signing-keys';

/** Key material from the configuration: the JWT signing keys and the credentials cipher. */
@Global()
@Module({
  providers: [
    {
      provide: SIGNING_KEYS,
      inject: [IDENTITY_CONFIG],
      useFactory: (config: IdentityConfig) => loadSigningKeys(config.JWT_SIGNING_KEYS),
    },
    {
      provide: CredentialsCipher,
      inject: [IDENTITY_CONFIG],
      useFactory: (config: IdentityConfig) =>
        new CredentialsCipher(parseEncryptionKeys(config.CREDENTIALS_ENCRYPTION_KEYS)),
    },
  ],
  exports: [SIGNING_KEYS, CredentialsCipher],
})
export class CryptoModule {}
