import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One AES-256 key and the id stored next to everything it encrypted. */
export interface EncryptionKey {
  kid: string;
  key: Buffer;
}

const FORMAT = 'v1';
const IV_BYTES = 12; // the GCM standard nonce size
const TAG_BYTES = 16;

/**
 * Parses `CREDENTIALS_ENCRYPTION_KEYS` (`kid:base64(32 bytes),kid2:...`). The first key encrypts, every key
 * decrypts, so a new key is rolled out by putting it first and old rows keep decrypting.
 */
export function parseEncryptionKeys(value: string): EncryptionKey[] {
  const keys = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const sep = part.indexOf(':');
      if (sep <= 0) throw new Error('each key must be "kid:base64key"');
      const kid = part.slice(0, sep);
      if (!/^[A-Za-z0-9_-]+$/.test(kid)) throw new Error(`key id "${kid}" may only use letters, digits, _ and -`);
      const key = Buffer.from(part.slice(sep + 1), 'base64');
      if (key.length !== 32) throw new Error(`key "${kid}" must be 32 bytes (base64), got ${key.length}`);
      return { kid, key };
    });
  if (keys.length === 0) throw new Error('at least one key is required');
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new Error('key ids must be unique');
  return keys;
}

export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
}

/**
 * AES-256-GCM envelope for secrets at rest: `v1.<kid>.<iv>.<tag>.<ciphertext>` (base64url parts).
 * The additional authenticated data binds a ciphertext to its row (e.g. tenant and store id), so a value
 * copied into another row fails to decrypt instead of leaking another tenant's secret.
 */
export class CredentialsCipher {
  private readonly byKid: Map<string, Buffer>;

  constructor(private readonly keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new Error('CredentialsCipher needs at least one key');
    this.byKid = new Map(keys.map((k) => [k.kid, k.key]));
  }

  encrypt(plaintext: string, aad: string): string {
    const { kid, key } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [FORMAT, kid, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join(
      '.',
    );
  }

  decrypt(envelope: string, aad: string): string {
    const parts = envelope.split('.');
    if (parts.length !== 5 || parts[0] !== FORMAT) throw new DecryptionError('unknown ciphertext format');
    const [, kid, iv, tag, ciphertext] = parts;
    const key = this.byKid.get(kid);
    if (!key) throw new DecryptionError(`no key with id "${kid}"`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError('ciphertext failed authentication');
    }
  }

  /** The key id a stored value was encrypted with (for re-encryption after a rotation). */
  static keyIdOf(envelope: string): string | undefined {
    const parts = envelope.split('.');
    return parts.length === 5 ? parts[1] : undefined;
  }
}
