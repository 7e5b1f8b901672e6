import { hkdfSync } from 'node:crypto';
import type { EncryptionKey } from './credentials-cipher';

/**
 * The secret keying identity's Idempotency-Key fingerprints (IdempotencyKeysOptions.fingerprintSecret), derived from
 * the first credentials encryption key: request bodies here hold passwords and channel credentials, and a plain
 * SHA-256 of such a body in `idempotency_keys` could be guessed offline from a leaked table.
 */
export function idempotencyFingerprintSecret(keys: readonly EncryptionKey[]): Buffer {
  return Buffer.from(hkdfSync('sha256', keys[0].key, Buffer.alloc(0), 'tessera identity idempotency fingerprint', 32));
}
