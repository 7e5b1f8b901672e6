import { importJWK, type CryptoKey, type JWK } from 'jose';

export const SIGNING_ALG = 'ES256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

// Members of an EC private JWK that must never be published.
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']);

/**
 * Loads `JWT_SIGNING_KEYS` (a JSON array of private EC P-256 JWKs, each with `kid`). The first key signs;
 * every key is published in the JWKS so tokens signed before a rotation still verify until they expire.
 */
export async function loadSigningKeys(json: string): Promise<SigningKey[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('JWT_SIGNING_KEYS is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new Error('JWT_SIGNING_KEYS must be a non-empty JSON array of JWKs');
  const keys: SigningKey[] = [];
  for (const raw of parsed as JWK[]) {
    if (typeof raw !== 'object' || raw === null) throw new Error('JWT_SIGNING_KEYS entries must be JWK objects');
    if (!raw.kid) throw new Error('every JWT signing key needs a kid');
    if (raw.kty !== 'EC' || raw.crv !== 'P-256' || !raw.d) {
      throw new Error(`JWT signing key "${raw.kid}" must be a private EC P-256 JWK (ES256)`);
    }
    const privateKey = (await importJWK(raw, SIGNING_ALG)) as CryptoKey;
    const publicJwk: JWK = { use: 'sig', alg: SIGNING_ALG };
    for (const [name, value] of Object.entries(raw)) {
      if (!PRIVATE_MEMBERS.has(name) && name !== 'key_ops' && name !== 'ext')
        (publicJwk as Record<string, unknown>)[name] = value;
    }
    keys.push({ kid: raw.kid, privateKey, publicJwk });
  }
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new Error('JWT signing key ids must be unique');
  return keys;
}
