import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export type AsymmetricAlgorithm = 'EdDSA' | 'ES256';

/** A public key as `/.well-known/jwks.json` publishes it: never a private parameter. */
export interface PublicJwk {
  kty: 'OKP' | 'EC';
  crv: 'Ed25519' | 'P-256';
  x: string;
  y?: string;
  kid: string;
  alg: AsymmetricAlgorithm;
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  alg: AsymmetricAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

/** Where development keeps its generated key (PKCS#8 PEM, readable by the owner only). */
export const DEVELOPMENT_KEY_FILE = 'jwt_signing_key.pem';

const KID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * The entries of `JWT_SIGNING_KEYS`: a JSON array (of JWKs or PEM strings), one or more JWKs
 * separated by commas, a JWK set (`{"keys": [...]}`), or comma-separated PEMs. PEMs may come on one
 * line, or with `\n` written out, as environment variables often carry them.
 */
function entries(raw: string): unknown[] {
  const text = raw.trim();
  if (text.startsWith('[') || text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.startsWith('[') ? text : `[${text}]`);
    } catch {
      throw new SigningKeyError('is not valid JSON (a JWK, several JWKs separated by commas, or a JSON array of JWKs or PEM strings)');
    }
    if (!Array.isArray(parsed)) throw new SigningKeyError('must be a JSON array of keys');
    const [first] = parsed as unknown[];
    if (parsed.length === 1 && first && typeof first === 'object' && Array.isArray((first as { keys?: unknown }).keys)) {
      return (first as { keys: unknown[] }).keys;
    }
    return parsed;
  }
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** Rewraps a PEM whose line breaks were lost or written out as `\n`. */
function normalizePem(text: string): string {
  const unescaped = text.replace(/\\n/g, '\n').trim();
  const match = /^-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----$/.exec(unescaped);
  if (!match) return unescaped;
  const body = match[2]!.replace(/\s+/g, '');
  return `-----BEGIN ${match[1]}-----\n${body.replace(/(.{64})/g, '$1\n').trim()}\n-----END ${match[1]}-----\n`;
}

/** RFC 7638: the SHA-256 of the key's required members in lexicographic order. */
export function jwkThumbprint(jwk: { kty: string; crv: string; x: string; y?: string }): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** Builds a signing key from a private key; `declared` are the `kid` and `alg` a JWK came with. */
export function signingKey(privateKey: KeyObject, declared: { kid?: unknown; alg?: unknown } = {}): SigningKey {
  if (privateKey.type !== 'private') throw new SigningKeyError('is not a private key');
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  let alg: AsymmetricAlgorithm;
  if (type === 'ed25519') alg = 'EdDSA';
  else if (type === 'ec' && curve === 'prime256v1') alg = 'ES256';
  else {
    const kind = type === 'ec' ? `an EC key on ${curve}` : `a${type === 'rsa' ? 'n' : ''} ${type ?? 'unknown'} key`;
    throw new SigningKeyError(`is ${kind}: only Ed25519 (EdDSA) and P-256 (ES256) keys are supported`);
  }
  if (declared.alg !== undefined && declared.alg !== alg) {
    throw new SigningKeyError(`declares "alg": ${JSON.stringify(declared.alg)}, but it is a key for ${alg}`);
  }
  if (declared.kid !== undefined && (typeof declared.kid !== 'string' || !KID_PATTERN.test(declared.kid))) {
    throw new SigningKeyError('has a "kid" that is not 1 to 128 printable ASCII characters');
  }
  const publicKey = createPublicKey(privateKey);
  const exported = publicKey.export({ format: 'jwk' }) as { kty: 'OKP' | 'EC'; crv: 'Ed25519' | 'P-256'; x: string; y?: string };
  const kid = (declared.kid as string | undefined) ?? jwkThumbprint(exported);
  // Listed member by member, so nothing else of the key can reach the published set.
  const publicJwk: PublicJwk = {
    kty: exported.kty,
    crv: exported.crv,
    x: exported.x,
    ...(exported.kty === 'EC' ? { y: exported.y } : {}),
    kid,
    alg,
    use: 'sig',
  };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

function loadEntry(entry: unknown): SigningKey {
  if (typeof entry === 'string') {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(normalizePem(entry));
    } catch {
      throw new SigningKeyError('is not a private key in PEM form (PKCS#8 "PRIVATE KEY" or "EC PRIVATE KEY")');
    }
    return signingKey(privateKey);
  }
  if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
    const jwk = entry as JsonWebKey;
    if (jwk.d === undefined) throw new SigningKeyError('is a public key: JWT_SIGNING_KEYS holds private keys (a JWK with "d")');
    if (jwk.use !== undefined && jwk.use !== 'sig') throw new SigningKeyError(`has "use": ${JSON.stringify(jwk.use)}; a signing key needs "sig"`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
    } catch {
      throw new SigningKeyError('is not a valid private JWK (OKP Ed25519 or EC P-256)');
    }
    return signingKey(privateKey, { kid: jwk.kid, alg: jwk.alg });
  }
  throw new SigningKeyError('is neither a JWK object nor a PEM string');
}

/**
 * Parses `JWT_SIGNING_KEYS`. The first key signs; all of them verify and are published. Errors
 * name the key by position and never quote key material.
 */
export function parseSigningKeys(raw: string): SigningKey[] {
  let list: unknown[];
  try {
    list = entries(raw);
  } catch (error) {
    throw new SigningKeyError(`JWT_SIGNING_KEYS ${(error as Error).message}`);
  }
  if (list.length === 0) throw new SigningKeyError('JWT_SIGNING_KEYS holds no key');
  if (list.length > 20) throw new SigningKeyError('JWT_SIGNING_KEYS holds more than 20 keys');
  const keys = list.map((entry, index) => {
    try {
      return loadEntry(entry);
    } catch (error) {
      throw new SigningKeyError(`JWT_SIGNING_KEYS: key ${index + 1} of ${list.length} ${(error as Error).message}`);
    }
  });
  const kids = new Set<string>();
  for (const key of keys) {
    if (kids.has(key.kid)) throw new SigningKeyError(`JWT_SIGNING_KEYS lists two keys with the kid "${key.kid}"`);
    kids.add(key.kid);
  }
  return keys;
}

/**
 * Development's key: generated once into the data folder, so tokens survive a restart without any
 * configuration. Of processes starting together, one key wins and all of them read it.
 */
export function developmentSigningKey(dataDir: string): SigningKey {
  const file = path.join(dataDir, DEVELOPMENT_KEY_FILE);
  if (!fs.existsSync(file)) {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    fs.mkdirSync(dataDir, { recursive: true });
    // Written aside and linked into place: a reader never sees a half-written file.
    const draft = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(draft, pem, { mode: 0o600 });
    try {
      fs.linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }
  return signingKey(createPrivateKey(fs.readFileSync(file, 'utf8')));
}

/** The `kid` of HS256 tokens signed with a JWT_SECRET: names the secret without revealing it. */
export function secretKid(secret: string): string {
  return `hs256-${createHmac('sha256', secret).update('kid').digest('base64url').slice(0, 16)}`;
}

/** The body of `/.well-known/jwks.json`. */
export function publicKeySet(keys: readonly SigningKey[]): { keys: PublicJwk[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}
