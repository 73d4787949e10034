import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digest } from '../src/opaqueTokens.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { Logout, Me } from './operations/auth.ts';
import { tokenClient, tokenPairOf } from './helpers/actors.ts';
import { ObtainTokenPair, RefreshTokenPair } from './operations/tokens.ts';
import { UpdateUser, UserCount } from './operations/users.ts';

interface Pair {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  user: { id: string; email: string };
}

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

async function obtain(email: string, password = TEST_PASSWORD): Promise<Pair> {
  return tokenPairOf(app.client(), email, password);
}

async function refresh(refreshToken: string) {
  return (await app.client().request(RefreshTokenPair, { refreshToken })).data?.refreshTokens;
}

type Refreshed = NonNullable<Awaited<ReturnType<typeof refresh>>>;

function asPair(result: Refreshed | undefined): Extract<Refreshed, { __typename: 'TokenPair' }> {
  if (result?.__typename !== 'TokenPair') throw new Error(`expected a TokenPair, got ${JSON.stringify(result)}`);
  return result;
}

async function meWith(accessToken: string) {
  return (await tokenClient(app, accessToken).request(Me)).data?.me ?? null;
}

function sign(claims: Record<string, unknown>, secret: string, expiresIn: string | number = '15m') {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('auth-api')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

describe('obtainTokens', () => {
  it('returns a short-lived access token that names only the user, the sign-in and its grants', async () => {
    const { id, email } = await app.createUser({ email: 'tokens@example.com', firstName: 'Private', lastName: 'Person' });
    const client = app.client();
    const result = await client.request(ObtainTokenPair, { input: { email: 'Tokens@Example.com', password: TEST_PASSWORD } });
    const pair = result.data!.obtainTokens as Pair;
    expect(pair.user).toMatchObject({ id: String(id), email });
    expect(result.headers.getSetCookie()).toEqual([]);

    expect(decodeProtectedHeader(pair.accessToken)).toEqual({ alg: 'EdDSA', kid: app.services.config.jwtSigningKeys[0]!.kid, typ: 'JWT' });
    const claims = decodeJwt(pair.accessToken);
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'roles', 'scope', 'sid', 'sub']);
    expect(claims.sub).toBe(String(id));
    expect(claims.exp! - claims.iat!).toBe(15 * 60);
    expect(Date.parse(pair.accessTokenExpiresAt)).toBe(claims.exp! * 1000);
    expect(pair.accessToken).not.toContain('Private');
  });

  it('stores the sign-in with a hashed refresh token that expires in 30 days', async () => {
    const { id } = await app.createUser({ email: 'stored@example.com' });
    const pair = await obtain('stored@example.com');
    const family = await app.services.prisma.tokenFamily.findFirstOrThrow({ where: { userId: id }, include: { refreshTokens: true } });
    expect(family.id).toBe(decodeJwt(pair.accessToken).sid);
    expect(family.refreshTokens.map((token) => token.id)).toEqual([digest(pair.refreshToken)]);
    expect(family.expiresAt.getTime() - Date.now()).toBeGreaterThan(29.9 * 24 * 3600_000);
  });

  it.each([
    ['a wrong password', 'wrong-password@example.com', 'Not-The-Password-1'],
    ['an unknown email', 'nobody-at-all@example.com', TEST_PASSWORD],
    ['an inactive account', 'inactive-tokens@example.com', TEST_PASSWORD],
  ])('answers InvalidCredentialsError for %s', async (_case, email, password) => {
    await app.createUser({ email: 'wrong-password@example.com' }).catch(() => undefined);
    await app.createUser({ email: 'inactive-tokens@example.com', isActive: false }).catch(() => undefined);
    const families = await app.services.prisma.tokenFamily.count();
    const before = app.services.hasher.operations;
    const result = await app.client().request(ObtainTokenPair, { input: { email, password } });
    expect(result.data?.obtainTokens).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    expect(app.services.hasher.operations - before).toBe(1);
    expect(await app.services.prisma.tokenFamily.count()).toBe(families);
  });
});

describe('bearer authentication', () => {
  it('authenticates queries and mutations without a cookie', async () => {
    await app.createUser({ email: 'bearer@example.com' });
    const { accessToken } = await obtain('bearer@example.com');
    expect(await meWith(accessToken)).toMatchObject({ email: 'bearer@example.com' });
  });

  it('needs no CSRF header on GET, since the Authorization header forces a preflight', async () => {
    await app.createUser({ email: 'bearer-get@example.com' });
    const { accessToken } = await obtain('bearer-get@example.com');
    const response = await fetch(`${app.url}/graphql?query=${encodeURIComponent('{ me { email } }')}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${accessToken}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { me: { email: 'bearer-get@example.com' } } });
  });

  it('reaches staff fields for staff', async () => {
    await app.createUser({ email: 'staff-bearer@example.com', isStaff: true });
    const { accessToken } = await obtain('staff-bearer@example.com');
    const result = await tokenClient(app, accessToken).request(UserCount);
    expect(result.errors).toBeUndefined();
    expect(result.data?.users.totalCount).toBeGreaterThan(0);
  });

  describe('refuses', () => {
    let valid: Pair;
    beforeAll(async () => {
      await app.createUser({ email: 'refused@example.com' });
      valid = await obtain('refused@example.com');
    });

    async function expectAnonymous(authorization: string) {
      const client = app.client({ authorization });
      expect((await client.request(Me)).data).toEqual({ me: null });
      const logout = await client.request(Logout);
      expect(logout.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }

    it('a tampered token', async () => {
      const [header, payload, signature] = valid.accessToken.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: '1' })).toString('base64url');
      await expectAnonymous(`Bearer ${header}.${forged}.${signature}`);
    });

    it('a token signed with an unknown secret', async () => {
      const { sid, sub } = decodeJwt(valid.accessToken);
      await expectAnonymous(`Bearer ${await sign({ sid, sub }, 'someone-elses-secret-0123456789abcdef')}`);
    });

    it('an unsigned (alg: none) token', async () => {
      const { sid, sub, exp } = decodeJwt(valid.accessToken);
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      await expectAnonymous(`Bearer ${encode({ alg: 'none' })}.${encode({ sid, sub, exp, iss: 'auth-api' })}.`);
    });

    it('an expired token', async () => {
      const { sid, sub } = decodeJwt(valid.accessToken);
      const { kid, privateKey } = app.services.config.jwtSigningKeys[0]!;
      const signed = (expiresAt: number) =>
        new SignJWT({ sid, sub, iss: 'auth-api', aud: 'auth-api' })
          .setProtectedHeader({ alg: 'EdDSA', kid })
          .setIssuedAt(expiresAt - 60)
          .setExpirationTime(expiresAt)
          .sign(privateKey);
      const now = Math.floor(Date.now() / 1000);
      expect(await meWith(await signed(now + 55))).not.toBeNull();
      const expired = await signed(now - 5);
      await expectAnonymous(`Bearer ${expired}`);
    });

    describe('a token signed with the key but with a lifetime the service never gives', () => {
      const now = () => Math.floor(Date.now() / 1000);
      async function signRaw(claims: Record<string, unknown>) {
        const { sid, sub } = decodeJwt(valid.accessToken);
        const { kid, privateKey } = app.services.config.jwtSigningKeys[0]!;
        return new SignJWT({ iss: 'auth-api', aud: 'auth-api', sid, sub, ...claims }).setProtectedHeader({ alg: 'EdDSA', kid }).sign(privateKey);
      }

      it.each([
        ['no exp', () => ({ iat: now() })],
        ['no iat', () => ({ exp: now() + 600 })],
        ['exp five years ahead', () => ({ iat: now(), exp: now() + 5 * 365 * 24 * 3600 })],
        ['exp a little past the TTL', () => ({ iat: now(), exp: now() + 15 * 60 + 120 })],
        ['iat an hour in the future', () => ({ iat: now() + 3600, exp: now() + 3600 + 600 })],
        ['iat two minutes in the future', () => ({ iat: now() + 120, exp: now() + 120 + 600 })],
        ['iat not a number', () => ({ iat: String(now()), exp: now() + 600 })],
      ])('%s', async (_name, claims) => {
        await expectAnonymous(`Bearer ${await signRaw(claims())}`);
      });

      it('while the same claims within the TTL and a small clock skew are accepted', async () => {
        expect(await meWith(await signRaw({ iat: now(), exp: now() + 15 * 60 }))).toMatchObject({ email: 'refused@example.com' });
        expect(await meWith(await signRaw({ iat: now() + 10, exp: now() + 10 + 15 * 60 }))).toMatchObject({ email: 'refused@example.com' });
      });
    });

    it.each(['Bearer', 'Bearer not-a-jwt', 'Basic dXNlcjpwYXNz', `Token ${'x'.repeat(50)}`, `Bearer ${'a'.repeat(5000)}`])(
      'a malformed Authorization header: %s',
      async (authorization) => {
        await expectAnonymous(authorization.slice(0, 100));
      },
    );

    it('a bad token even when a valid session cookie comes with it', async () => {
      const client = await app.signedIn({ email: 'cookie-and-bad-token@example.com' });
      const mixed = app.client({ authorization: 'Bearer not-a-jwt', cookie: client.cookieHeader });
      expect((await mixed.request(Me)).data).toEqual({ me: null });
    });
  });

  it('stops working as soon as the user is deactivated', async () => {
    const { id } = await app.createUser({ email: 'deactivated-bearer@example.com' });
    const { accessToken } = await obtain('deactivated-bearer@example.com');
    await app.createUser({ email: 'deactivating-staff@example.com', isStaff: true });
    const staff = await obtain('deactivating-staff@example.com');
    const result = await tokenClient(app, staff.accessToken).request(UpdateUser, { id: String(id), input: { isActive: false } });
    expect(result.data?.updateUser.__typename).toBe('User');
    expect(await meWith(accessToken)).toBeNull();
  });
});

describe('refreshTokens', () => {
  it('returns a new pair and retires the refresh token it was given', async () => {
    await app.createUser({ email: 'refresh@example.com' });
    const first = await obtain('refresh@example.com');
    const second = asPair(await refresh(first.refreshToken));
    expect(second.user).toMatchObject({ id: first.user.id, email: 'refresh@example.com' });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(decodeJwt(second.accessToken).sid).toBe(decodeJwt(first.accessToken).sid);
    expect(await meWith(second.accessToken)).toMatchObject({ email: 'refresh@example.com' });
    expect(asPair(await refresh(second.refreshToken)).refreshToken).not.toBe(second.refreshToken);
  });

  it('revokes the whole sign-in when a retired refresh token is presented again', async () => {
    await app.createUser({ email: 'reuse@example.com' });
    const stolen = await obtain('reuse@example.com');
    const legitimate = asPair(await refresh(stolen.refreshToken));

    expect(await refresh(stolen.refreshToken)).toEqual({
      __typename: 'InvalidTokenError',
      message: 'The token is invalid or has expired.',
    });
    expect(await refresh(legitimate.refreshToken)).toMatchObject({ __typename: 'InvalidTokenError' });
    expect(await meWith(legitimate.accessToken)).toBeNull();
  });

  it('lets exactly one of two simultaneous uses of a token through, and treats the other as reuse', async () => {
    await app.createUser({ email: 'race@example.com' });
    const pair = await obtain('race@example.com');
    const results = await Promise.all([refresh(pair.refreshToken), refresh(pair.refreshToken)]);
    expect(results.map((result) => result?.__typename).sort()).toEqual(['InvalidTokenError', 'TokenPair']);
    const winner = asPair(results.find((result) => result?.__typename === 'TokenPair'));
    expect(await refresh(winner.refreshToken)).toMatchObject({ __typename: 'InvalidTokenError' });
  });

  it('refuses an expired refresh token', async () => {
    await app.createUser({ email: 'expired-refresh@example.com' });
    const pair = await obtain('expired-refresh@example.com');
    await app.services.prisma.refreshToken.update({
      where: { id: digest(pair.refreshToken) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await refresh(pair.refreshToken)).toMatchObject({ __typename: 'InvalidTokenError' });
  });

  it.each(['', 'not-a-token', 'x'.repeat(10_000)])('refuses the refresh token %j', async (token) => {
    expect(await refresh(token.slice(0, 10_000))).toMatchObject({ __typename: 'InvalidTokenError' });
  });

  it('does not accept an access token as a refresh token', async () => {
    await app.createUser({ email: 'confused@example.com' });
    const pair = await obtain('confused@example.com');
    expect(await refresh(pair.accessToken)).toMatchObject({ __typename: 'InvalidTokenError' });
  });
});

describe('logout with a bearer token', () => {
  it('revokes that sign-in and its refresh tokens, leaving the user’s other sessions alone', async () => {
    await app.createUser({ email: 'bearer-logout@example.com' });
    const browser = app.client();
    await browser.login('bearer-logout@example.com', TEST_PASSWORD);
    const phone = await obtain('bearer-logout@example.com');
    const tablet = await obtain('bearer-logout@example.com');

    const result = await tokenClient(app, phone.accessToken).request(Logout);
    expect(result.data?.logout).toEqual({ message: 'Successfully logged out' });
    expect(await meWith(phone.accessToken)).toBeNull();
    expect(await refresh(phone.refreshToken)).toMatchObject({ __typename: 'InvalidTokenError' });
    expect(await meWith(tablet.accessToken)).toMatchObject({ email: 'bearer-logout@example.com' });
    expect((await browser.request(Me)).data?.me).toMatchObject({ email: 'bearer-logout@example.com' });
  });
});

describe('access token lifetime', () => {
  it('follows ACCESS_TOKEN_TTL_SECONDS, and the token stops working once it has expired', async () => {
    const shortLived = await startTestApp({ ACCESS_TOKEN_TTL_SECONDS: '1' });
    try {
      await shortLived.createUser({ email: 'short@example.com' });
      const result = await shortLived.client().request(ObtainTokenPair, { input: { email: 'short@example.com', password: TEST_PASSWORD } });
      const pair = result.data!.obtainTokens as Pair;
      const claims = decodeJwt(pair.accessToken);
      expect(claims.exp! - claims.iat!).toBe(1);
      const client = shortLived.client({ authorization: `Bearer ${pair.accessToken}` });
      await new Promise((resolve) => setTimeout(resolve, Date.parse(pair.accessTokenExpiresAt) - Date.now() + 50));
      expect((await client.request(Me)).data).toEqual({ me: null });
      const refreshed = await shortLived.client().request(RefreshTokenPair, { refreshToken: pair.refreshToken });
      expect(asPair(refreshed.data?.refreshTokens).accessToken).not.toBe(pair.accessToken);
    } finally {
      await shortLived.stop();
    }
  });
});

describe('a bearer request’s cost', () => {
  it('reads the token’s sign-in and its user in one statement, and me needs no other', async () => {
    const { email } = await app.createUser({ email: 'one-read@tokens.test' });
    const pair = await tokenPairOf(app.client(), email);
    app.sql.length = 0;
    const result = await tokenClient(app, pair.accessToken).request(Me);
    expect(result.data?.me?.email).toBe(email);
    expect(app.sql).toHaveLength(1);
    expect(app.sql[0]).toMatch(/FROM "TokenFamily" f LEFT JOIN "User" u/);
  });
});
