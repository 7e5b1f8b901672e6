import { randomBytes } from 'node:crypto';
import { CredentialsCipher, DecryptionError, parseEncryptionKeys } from './credentials-cipher';

const key = (kid: string) => `${kid}:${randomBytes(32).toString('base64')}`;

describe('CredentialsCipher', () => {
  it('round-trips and never stores the plaintext', () => {
    const cipher = new CredentialsCipher(parseEncryptionKeys(key('k1')));
    const sealed = cipher.encrypt('{"apiKey":"s3cret-value"}', 'aad-1');
    expect(sealed).not.toContain('s3cret');
    expect(sealed.startsWith('v1.k1.')).toBe(true);
    expect(cipher.decrypt(sealed, 'aad-1')).toBe('{"apiKey":"s3cret-value"}');
  });

  it('refuses a ciphertext moved to another row (AAD) or tampered with', () => {
    const cipher = new CredentialsCipher(parseEncryptionKeys(key('k1')));
    const sealed = cipher.encrypt('secret', 'row-a');
    expect(() => cipher.decrypt(sealed, 'row-b')).toThrow(DecryptionError);
    const parts = sealed.split('.');
    parts[4] = Buffer.from('x' + Buffer.from(parts[4], 'base64url').toString('latin1'), 'latin1').toString('base64url');
    expect(() => cipher.decrypt(parts.join('.'), 'row-a')).toThrow(DecryptionError);
  });

  it('decrypts with an older key after rotation and encrypts with the newest', () => {
    const oldKey = key('old');
    const newKey = key('new');
    const sealedOld = new CredentialsCipher(parseEncryptionKeys(oldKey)).encrypt('legacy', 'aad');
    const rotated = new CredentialsCipher(parseEncryptionKeys(`${newKey},${oldKey}`));
    expect(rotated.decrypt(sealedOld, 'aad')).toBe('legacy');
    expect(CredentialsCipher.keyIdOf(rotated.encrypt('fresh', 'aad'))).toBe('new');
    expect(() => new CredentialsCipher(parseEncryptionKeys(newKey)).decrypt(sealedOld, 'aad')).toThrow(
      /no key with id "old"/,
    );
  });

  it('rejects malformed key lists naming the problem', () => {
    expect(() => parseEncryptionKeys('')).toThrow(/at least one key/);
    expect(() => parseEncryptionKeys('nokid')).toThrow(/kid:base64key/);
    expect(() => parseEncryptionKeys(`k1:${randomBytes(16).toString('base64')}`)).toThrow(/32 bytes/);
    const k = key('dup');
    expect(() => parseEncryptionKeys(`${k},${k}`)).toThrow(/unique/);
  });
});
