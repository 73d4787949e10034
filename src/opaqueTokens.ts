import { createHash, randomBytes } from 'node:crypto';

/** An unguessable token: 256 bits, URL-safe. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * What the database stores in place of a bearer secret (session id, refresh or reset token), so a
 * leaked table holds nothing that can be presented back. SHA-256 suffices: the input is random.
 */
export function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Tokens we issue are short; anything long is not one of ours and is not worth hashing. */
export const MAX_TOKEN_LENGTH = 200;
