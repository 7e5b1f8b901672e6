import { importJWK, type CryptoKey, type JWK } from 'jose';

export const SIGNING_ALG = 'ES256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

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
    // Published member by member: what a verifier needs and nothing else the configured JWK may carry (its private
    // part, or a `use` or `alg` that would contradict how the key is used).
    const publicJwk: JWK = { kty: 'EC', crv: 'P-256', x: raw.x, y: raw.y, kid: raw.kid, use: 'sig', alg: SIGNING_ALG };
    keys.push({ kid: raw.kid, privateKey, publicJwk });
  }
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new Error('JWT signing key ids must be unique');
  return keys;
}
