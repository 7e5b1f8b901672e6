import { baseConfigSchema, portSchema, secret } from '@tessera/service-kit';
import { z } from 'zod';
import { parseEncryptionKeys } from './crypto/credentials-cipher';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Identity's environment, validated at start; a bad value fails the boot naming the variable. */
export const identityConfigSchema = baseConfigSchema.extend({
  PORT: portSchema.default(3101),
  /** JSON array of private ES256 JWKs with `kid`; parsed (and checked) by loadSigningKeys at start. */
  JWT_SIGNING_KEYS: secret(z.string().min(2)),
  CREDENTIALS_ENCRYPTION_KEYS: secret(
    z.string().superRefine((value, ctx) => {
      try {
        parseEncryptionKeys(value);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      }
    }),
  ),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt(30 * 24 * 3600),
  /** Failed logins allowed per account, and per client address, within LOGIN_THROTTLE_WINDOW_SECONDS. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT: positiveInt(5),
  LOGIN_MAX_FAILURES_PER_ADDRESS: positiveInt(20),
  LOGIN_THROTTLE_WINDOW_SECONDS: positiveInt(15 * 60),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

/** Nest injection token for the validated IdentityConfig. */
export const IDENTITY_CONFIG = Symbol('IDENTITY_CONFIG');
