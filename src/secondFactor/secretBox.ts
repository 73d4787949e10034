import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encrypts small secrets (TOTP keys) for storage with AES-256-GCM. Each value names the key that
 * sealed it (`v1.<key id>.<iv>.<ciphertext>.<tag>`), so keys can be rotated: the first key seals,
 * every listed key opens, and `needsResealing` tells the caller to seal a value again under the
 * first key. The user id is bound in as associated data, so a value copied onto another user's row
 * does not open.
 */
export class SecretBox {
  private readonly keys: { id: string; key: Buffer }[];

  constructor(keys: Buffer[]) {
    if (keys.length === 0 || keys.some((key) => key.length !== 32)) throw new Error('SecretBox needs 32-byte keys');
    this.keys = keys.map((key) => ({ id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key }));
  }

  seal(plaintext: string, userId: number): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`user:${userId}`));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', id, iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** The plaintext, or null when no configured key opens the value (a removed key, tampering). */
  open(value: string, userId: number): string | null {
    const [version, id, iv, sealed, tag] = value.split('.');
    const key = this.keys.find((candidate) => candidate.id === id)?.key;
    if (version !== 'v1' || !key || !iv || sealed === undefined || !tag) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(`user:${userId}`));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  needsResealing(value: string): boolean {
    return value.split('.')[1] !== this.keys[0]!.id;
  }
}
