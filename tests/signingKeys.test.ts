import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  jwtVerify,
  SignJWT,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretKid } from '../src/signingKeys.ts';
import { Me } from './operations/auth.ts';
import { RefreshTokenPair } from './operations/tokens.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { tokenPairOf } from './helpers/actors.ts';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'https://graph.example.test';
const JWT_SECRET = 'the-previous-hs256-secret-0123456789abcdef';

interface Pair {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  user: { id: string };
}

function newKey(type: 'ed25519' | 'P-256' = 'ed25519'): KeyObject {
  return type === 'ed25519' ? generateKeyPairSync('ed25519').privateKey : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** JWT_SIGNING_KEYS as a JSON array of private JWKs. */
async function keysVariable(...keys: KeyObject[]): Promise<string> {
  return JSON.stringify(await Promise.all(keys.map((key) => exportJWK(key))));
}

async function thumbprint(key: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(key));
}

async function obtain(app: TestApp, email: string): Promise<Pair> {
  return tokenPairOf(app.client(), email);
}

async function refresh(app: TestApp, refreshToken: string): Promise<Pair> {
  const result = await app.client().request(RefreshTokenPair, { refreshToken });
  if (result.data?.refreshTokens.__typename !== 'TokenPair') throw new Error(`refreshTokens: ${JSON.stringify(result)}`);
  return result.data.refreshTokens;
}

async function meWith(app: TestApp, accessToken: string) {
  const result = await app.client({ authorization: `Bearer ${accessToken}` }).request(Me);
  expect(result.errors).toBeUndefined();
  return result.data?.me ?? null;
}

/** Another service: knows only the JWKS address, the issuer and the audience. */
function verifierOf(app: TestApp, issuer = ISSUER, audience = AUDIENCE) {
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', app.url));
  return async (token: string) => (await jwtVerify(token, jwks, { issuer, audience })).payload;
}

async function jwks(app: TestApp): Promise<{ keys: Array<Record<string, unknown>> }> {
  const response = await fetch(`${app.url}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return response.json();
}

function sign(claims: JWTPayload, header: { alg: string; kid?: string }, key: KeyObject | Uint8Array, expiresIn: string | number = '10m') {
  return new SignJWT(claims).setProtectedHeader(header).setIssuedAt().setExpirationTime(expiresIn).sign(key);
}

describe('the development key and the JWKS', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
  });
  afterAll(() => app?.stop());

  it('generates one Ed25519 key into the data folder, readable by the owner only', () => {
    const file = path.join(app.services.config.dataDir, 'jwt_signing_key.pem');
    expect(fs.statSync(file).mode & 0o077).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(app.services.config.jwtSigningKeys.map((key) => key.alg)).toEqual(['EdDSA']);
    expect(app.services.config.jwtSecrets).toEqual([]);
  });

  it('publishes the public key only, named by its RFC 7638 thumbprint, with cache headers', async () => {
    const response = await fetch(`${app.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const body = await response.json();
    expect(body.keys).toHaveLength(1);
    const [jwk] = body.keys;
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwk.kid).toBe(await thumbprint(app.services.config.jwtSigningKeys[0]!.privateKey));
    const privateJwk = await exportJWK(app.services.config.jwtSigningKeys[0]!.privateKey);
    expect(JSON.stringify(body)).not.toContain(privateJwk.d);
  });

  it('answers a conditional request with 304 while the keys are the same', async () => {
    const first = await fetch(`${app.url}/.well-known/jwks.json`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${app.url}/.well-known/jwks.json`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('public, max-age=300');
    const other = await fetch(`${app.url}/.well-known/jwks.json`, { headers: { 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
  });

  it('signs tokens another service verifies with the served JWKS, carrying exactly the contract’s claims', async () => {
    const { id } = await app.createUser({ email: 'claims@example.com' });
    const pair = await obtain(app, 'claims@example.com');
    const { keys } = await jwks(app);
    expect(decodeProtectedHeader(pair.accessToken)).toEqual({ alg: 'EdDSA', kid: keys[0]!.kid, typ: 'JWT' });

    const payload = await verifierOf(app)(pair.accessToken);
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'roles', 'scope', 'sid', 'sub']);
    const family = await app.services.prisma.tokenFamily.findFirstOrThrow({ where: { userId: id } });
    expect(payload).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: String(id),
      sid: family.id,
      iat: expect.any(Number),
      exp: payload.iat! + 15 * 60,
      roles: [],
      scope: '',
    });
    // sub is User.id.
    expect((await meWith(app, pair.accessToken))?.id).toBe(payload.sub);
    expect(pair.user.id).toBe(payload.sub);
    expect(Date.parse(pair.accessTokenExpiresAt)).toBe(payload.exp! * 1000);
  });

  it('puts staff and roles in roles and scope', async () => {
    const { id } = await app.createUser({ email: 'staff-claims@example.com', isStaff: true });
    await app.services.prisma.userRole.createMany({ data: ['support', 'billing:read'].map((role) => ({ userId: id, role })) });
    const payload = await verifierOf(app)((await obtain(app, 'staff-claims@example.com')).accessToken);
    expect(payload.roles).toEqual(['billing:read', 'support']);
    expect(payload.scope).toBe('staff role:billing:read role:support');
  });

  it('is refused by a verifier expecting another issuer or audience', async () => {
    await app.createUser({ email: 'elsewhere@example.com' });
    const { accessToken } = await obtain(app, 'elsewhere@example.com');
    await expect(verifierOf(app, 'https://someone-else.test')(accessToken)).rejects.toThrow(/iss/);
    await expect(verifierOf(app, ISSUER, 'https://another-api.test')(accessToken)).rejects.toThrow(/aud/);
  });
});

describe('tokens the service refuses', () => {
  let app: TestApp;
  let key: KeyObject;
  let kid: string;
  let valid: Pair;
  let claims: JWTPayload;
  beforeAll(async () => {
    key = newKey();
    kid = await thumbprint(key);
    app = await startTestApp({ JWT_SIGNING_KEYS: await keysVariable(key), JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    await app.createUser({ email: 'target@example.com' });
    valid = await obtain(app, 'target@example.com');
    const { sub, sid } = decodeJwt(valid.accessToken);
    claims = { sub, sid, iss: ISSUER, aud: AUDIENCE, roles: [], scope: '' };
  });
  afterAll(() => app?.stop());

  async function expectAnonymous(token: string) {
    expect(await meWith(app, token)).toBeNull();
  }

  it('accepts the real key’s signature (the forgeries below differ in one thing each)', async () => {
    expect(await meWith(app, valid.accessToken)).toMatchObject({ email: 'target@example.com' });
    expect(await meWith(app, await sign(claims, { alg: 'EdDSA', kid }, key))).toMatchObject({ email: 'target@example.com' });
  });

  it('a token signed with an unpublished key, under the published kid or its own', async () => {
    const stranger = newKey();
    await expectAnonymous(await sign(claims, { alg: 'EdDSA', kid }, stranger));
    await expectAnonymous(await sign(claims, { alg: 'EdDSA', kid: await thumbprint(stranger) }, stranger));
    await expectAnonymous(await sign(claims, { alg: 'EdDSA' }, stranger));
  });

  it('an HS256 token whose secret is the published public key (algorithm confusion)', async () => {
    const [jwk] = (await jwks(app)).keys;
    const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' });
    const secrets = [JSON.stringify(jwk), String(publicPem), Buffer.from(String(jwk!.x), 'base64url'), String(jwk!.x)];
    for (const secret of secrets) {
      const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : new Uint8Array(secret);
      await expectAnonymous(await sign(claims, { alg: 'HS256', kid }, bytes));
      await expectAnonymous(await sign(claims, { alg: 'HS256' }, bytes));
    }
  });

  it('a token whose header names another algorithm than its key’s, or none', async () => {
    const p256 = newKey('P-256');
    await expectAnonymous(await sign(claims, { alg: 'ES256', kid }, p256));
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 600;
    const body = encode({ ...claims, exp, iat: exp - 600 });
    await expectAnonymous(`${encode({ alg: 'none', kid })}.${body}.`);
    await expectAnonymous(`${encode({ alg: 'none' })}.${body}.`);
    // The real signature under a header changed to another algorithm.
    const [, payload, signature] = valid.accessToken.split('.');
    await expectAnonymous(`${encode({ alg: 'HS256', kid, typ: 'JWT' })}.${payload}.${signature}`);
  });

  it('a token of the real key for another issuer or audience, or without a required claim', async () => {
    await expectAnonymous(await sign({ ...claims, iss: 'https://someone-else.test' }, { alg: 'EdDSA', kid }, key));
    await expectAnonymous(await sign({ ...claims, aud: 'https://another-api.test' }, { alg: 'EdDSA', kid }, key));
    const { aud: _aud, ...withoutAudience } = claims;
    await expectAnonymous(await sign(withoutAudience, { alg: 'EdDSA', kid }, key));
    const { sid: _sid, ...withoutSid } = claims;
    await expectAnonymous(await sign(withoutSid, { alg: 'EdDSA', kid }, key));
    const noExpiry = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid }).setIssuedAt().sign(key);
    await expectAnonymous(noExpiry);
    await expectAnonymous(await sign(claims, { alg: 'EdDSA', kid }, key, Math.floor(Date.now() / 1000) - 5));
  });

  it('an HS256 token of JWT_SECRET for another audience or issuer', async () => {
    const secret = new TextEncoder().encode(JWT_SECRET);
    const hs256Kid = secretKid(JWT_SECRET);
    expect(await meWith(app, await sign(claims, { alg: 'HS256', kid: hs256Kid }, secret))).toMatchObject({ email: 'target@example.com' });
    await expectAnonymous(await sign({ ...claims, aud: 'https://another-api.test' }, { alg: 'HS256', kid: hs256Kid }, secret));
    await expectAnonymous(await sign({ ...claims, iss: 'auth-api' }, { alg: 'HS256', kid: hs256Kid }, secret));
    const { aud: _aud, ...withoutAudience } = claims;
    await expectAnonymous(await sign(withoutAudience, { alg: 'HS256', kid: hs256Kid }, secret));
    // Without a kid: as the service signed them before, or else with the right audience.
    await expectAnonymous(await sign({ ...claims, aud: 'https://another-api.test' }, { alg: 'HS256' }, secret));
    expect(await meWith(app, await sign({ ...withoutAudience, iss: 'auth-api' }, { alg: 'HS256' }, secret))).not.toBeNull();
  });

  it('an HS256 token of a secret that is not configured', async () => {
    await expectAnonymous(await sign(claims, { alg: 'HS256' }, new TextEncoder().encode('not-the-secret-0123456789abcdef-xyz')));
  });
});

describe('HS256 tokens of JWT_SECRET', () => {
  /** A token as the service signed them before signing keys: no kid, issuer auth-api, no audience. */
  function legacyToken(accessToken: string, secret = JWT_SECRET) {
    const { sub, sid } = decodeJwt(accessToken);
    return new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('auth-api')
      .setSubject(sub!)
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(new TextEncoder().encode(secret));
  }

  it('sign while JWT_SECRET is the only key; adding JWT_SIGNING_KEYS signs nobody out; removing JWT_SECRET ends HS256', async () => {
    let app = await startTestApp({ JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    try {
      // Upgraded without a signing key: HS256 as before, and nothing to publish.
      expect((await jwks(app)).keys).toEqual([]);
      await app.createUser({ email: 'upgrade@example.com' });
      const before = await obtain(app, 'upgrade@example.com');
      expect(decodeProtectedHeader(before.accessToken)).toMatchObject({ alg: 'HS256', kid: expect.stringMatching(/^hs256-/) });
      const old = await legacyToken(before.accessToken);
      expect(await meWith(app, old)).toMatchObject({ email: 'upgrade@example.com' });

      // The operator adds a signing key and keeps JWT_SECRET: every token of the previous setup still works.
      const key = newKey();
      app = await app.restart({ JWT_SIGNING_KEYS: await keysVariable(key) });
      expect(await meWith(app, before.accessToken)).toMatchObject({ email: 'upgrade@example.com' });
      expect(await meWith(app, old)).toMatchObject({ email: 'upgrade@example.com' });
      const after = await refresh(app, before.refreshToken);
      expect(decodeProtectedHeader(after.accessToken)).toMatchObject({ alg: 'EdDSA', kid: await thumbprint(key) });
      await verifierOf(app)(after.accessToken);
      expect((await jwks(app)).keys.map((jwk) => jwk.kid)).toEqual([await thumbprint(key)]);

      // Once the HS256 tokens have expired, JWT_SECRET goes: they are refused from then on.
      app = await app.restart({ JWT_SECRET: undefined });
      expect(await meWith(app, before.accessToken)).toBeNull();
      expect(await meWith(app, old)).toBeNull();
      expect(await meWith(app, after.accessToken)).toMatchObject({ email: 'upgrade@example.com' });
    } finally {
      await app.stop();
    }
  });

  it('of a previous secret still listed verify; of a removed one do not', async () => {
    const previous = 'an-even-older-secret-0123456789abcdef';
    let app = await startTestApp({ JWT_SIGNING_KEYS: await keysVariable(newKey()), JWT_SECRET: `${JWT_SECRET},${previous}` });
    try {
      await app.createUser({ email: 'two-secrets@example.com' });
      const pair = await obtain(app, 'two-secrets@example.com');
      expect(await meWith(app, await legacyToken(pair.accessToken, previous))).toMatchObject({ email: 'two-secrets@example.com' });
      app = await app.restart({ JWT_SECRET });
      expect(await meWith(app, await legacyToken(pair.accessToken, previous))).toBeNull();
      expect(await meWith(app, await legacyToken(pair.accessToken))).toMatchObject({ email: 'two-secrets@example.com' });
    } finally {
      await app.stop();
    }
  });
});

describe('ES256', () => {
  it('signs with a P-256 key given as PEM and publishes it as an EC JWK', async () => {
    const key = newKey('P-256');
    const pem = String(key.export({ type: 'sec1', format: 'pem' })).replace(/\n/g, '\\n');
    const app = await startTestApp({ JWT_SIGNING_KEYS: pem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    try {
      const { keys } = await jwks(app);
      expect(keys).toHaveLength(1);
      expect(Object.keys(keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: await thumbprint(key) });
      await app.createUser({ email: 'es256@example.com' });
      const pair = await obtain(app, 'es256@example.com');
      expect(decodeProtectedHeader(pair.accessToken)).toEqual({ alg: 'ES256', kid: keys[0]!.kid, typ: 'JWT' });
      expect((await verifierOf(app)(pair.accessToken)).sub).toBe(pair.user.id);
      expect(await meWith(app, pair.accessToken)).toMatchObject({ email: 'es256@example.com' });
    } finally {
      await app.stop();
    }
  });
});

describe('key rotation as the README describes it', () => {
  it('add a key, make it first, drop the old one: no sign-in is lost', async () => {
    const oldKey = newKey();
    const nextKey = newKey('P-256');
    const [oldKid, newKid] = [await thumbprint(oldKey), await thumbprint(nextKey)];
    const kids = async (app: TestApp) => (await jwks(app)).keys.map((jwk) => jwk.kid);
    const kidOf = (token: string) => decodeProtectedHeader(token).kid;
    const env = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
    let app = await startTestApp({ ...env, JWT_SIGNING_KEYS: await keysVariable(oldKey) });
    try {
      await app.createUser({ email: 'rotation@example.com' });
      const cookie = app.client();
      await cookie.login('rotation@example.com', TEST_PASSWORD);
      let pair = await obtain(app, 'rotation@example.com');
      expect(kidOf(pair.accessToken)).toBe(oldKid);

      // 1. Add the new key second: published, not yet signing.
      app = await app.restart({ JWT_SIGNING_KEYS: await keysVariable(oldKey, nextKey) });
      expect(await kids(app)).toEqual([oldKid, newKid]);
      expect(await meWith(app, pair.accessToken)).toMatchObject({ email: 'rotation@example.com' });
      pair = await refresh(app, pair.refreshToken);
      expect(kidOf(pair.accessToken)).toBe(oldKid);

      // 2. Make it first: it signs; tokens of the old key still verify, here and elsewhere.
      app = await app.restart({ JWT_SIGNING_KEYS: await keysVariable(nextKey, oldKey) });
      expect(await kids(app)).toEqual([newKid, oldKid]);
      const signedByOld = pair.accessToken;
      expect(await meWith(app, signedByOld)).toMatchObject({ email: 'rotation@example.com' });
      await verifierOf(app)(signedByOld);
      pair = await refresh(app, pair.refreshToken);
      expect(kidOf(pair.accessToken)).toBe(newKid);
      await verifierOf(app)(pair.accessToken);

      // 3. Drop the old key once its last tokens have expired: the sign-in goes on with the new key.
      app = await app.restart({ JWT_SIGNING_KEYS: await keysVariable(nextKey) });
      expect(await kids(app)).toEqual([newKid]);
      expect(await meWith(app, signedByOld)).toBeNull();
      expect(await meWith(app, pair.accessToken)).toMatchObject({ email: 'rotation@example.com' });
      pair = await refresh(app, pair.refreshToken);
      expect(kidOf(pair.accessToken)).toBe(newKid);
      expect(await meWith(app, pair.accessToken)).toMatchObject({ email: 'rotation@example.com' });
      await expect(verifierOf(app)(signedByOld)).rejects.toThrow();
      // Cookie sessions never depended on these keys.
      const moved = app.client({ cookie: cookie.cookieHeader });
      expect((await moved.request(Me)).data?.me).toMatchObject({ email: 'rotation@example.com' });
    } finally {
      await app.stop();
    }
  });
});
