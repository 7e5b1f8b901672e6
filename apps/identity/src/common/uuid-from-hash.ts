/**
 * A UUID in the version 4 layout (version nibble 4, RFC 4122 variant) from the first 128 bits of a hex hash: an id
 * that is the same for the same input, and as unguessable as the hash, which every UUID validator accepts.
 */
export function uuidFromHash(hex: string): string {
  if (!/^[0-9a-f]{32}/.test(hex)) throw new Error('uuidFromHash needs at least 32 lower-case hex digits');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const h = `${hex.slice(0, 12)}4${hex.slice(13, 16)}${variant}${hex.slice(17, 32)}`;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
