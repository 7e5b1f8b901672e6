import { createHash } from 'node:crypto';

interface Versioned {
  id: string;
  version: number;
}

/**
 * The entity tag of a product as the API shows it: it changes whenever the product's version or one of its
 * variants' versions does (a variant change does not bump the product's version), and only then.
 */
export function productEtag(product: Versioned, variants: readonly Versioned[]): string {
  const hash = createHash('sha256').update(`${product.id}:${product.version}`);
  for (const v of [...variants].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) hash.update(`;${v.id}:${v.version}`);
  return `"${hash.digest('base64url').slice(0, 22)}"`;
}

/**
 * Whether an `If-Match` header lets a change of the product whose tag is `current` go ahead (RFC 9110 13.1.1): `*`,
 * or a list holding `current`. A weak tag (`W/"..."`) never matches, as the strong comparison If-Match uses requires.
 */
export function ifMatchAllows(header: string, current: string): boolean {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || tag === current);
}
