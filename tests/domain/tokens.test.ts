// Token sign-ins (src/tokens.ts) called directly on a real database: families, rotation, reuse,
// revocation and what an access token carries.
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TokenService, tokenSettings, type TokenPair } from '../../src/tokens.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';

const CLIENT = { userAgent: 'domain-test', ipAddress: '192.0.2.7' };

let parts: DomainParts;
let tokens: TokenService;

function tokenService(overrides: Partial<ConstructorParameters<typeof TokenService>[0]> = {}) {
  const { config } = parts;
  return new TokenService({
    prisma: parts.prisma,
    reads: parts.directReads,
    ...tokenSettings(config),
    ...overrides,
  });
}

beforeAll(async () => {
  parts = await domainParts();
  tokens = tokenService();
});
afterAll(() => parts?.close());

let userId: number;
beforeEach(async () => {
  ({ id: userId } = await parts.prisma.user.create({
    data: { email: `${randomUUID()}@tokens.test`, passwordHash: 'unused', roles: { create: [{ role: 'support' }] } },
    select: { id: true },
  }));
});

describe('issue and verify', () => {
  it('starts a family that the access token names, with the user’s grants and the client recorded', async () => {
    const pair = await tokens.issue(userId, CLIENT);
    const claims = await tokens.verify(pair.accessToken);
    // The user's row comes with the family, read in the same statement.
    expect(claims).toEqual({ userId, familyId: expect.any(String), user: expect.objectContaining({ id: userId, isActive: true }) });
    expect(parts.sql.filter((sql) => /TokenFamily/.test(sql) && /^\s*SELECT/i.test(sql))).not.toHaveLength(0);
    const family = await parts.prisma.tokenFamily.findUniqueOrThrow({ where: { id: claims!.familyId } });
    expect(family).toMatchObject({ userId, ...CLIENT });
    expect(decodeJwt(pair.accessToken)).toMatchObject({ sub: String(userId), sid: claims!.familyId, roles: ['support'], scope: 'role:support' });
    expect(pair.accessTokenExpiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('refuses a token of another audience, a tampered token and a revoked family', async () => {
    const pair = await tokens.issue(userId, CLIENT);
    const elsewhere = await tokenService({ audience: 'another-service' }).issue(userId, CLIENT);
    expect(await tokens.verify(elsewhere.accessToken)).toBeNull();
    const [header, payload, signature] = pair.accessToken.split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(pair.accessToken), sub: String(userId + 1) })).toString('base64url');
    expect(await tokens.verify(`${header}.${forged}.${signature}`)).toBeNull();
    expect(await tokens.verify(`${header}.${payload}.${signature}`)).not.toBeNull();
    await tokens.revokeFamily(decodeJwt(pair.accessToken).sid as string);
    expect(await tokens.verify(pair.accessToken)).toBeNull();
  });

  it('refuses the access token of a family that has expired', async () => {
    const pair = await tokens.issue(userId, CLIENT);
    await parts.prisma.tokenFamily.updateMany({ where: { userId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await tokens.verify(pair.accessToken)).toBeNull();
  });
});

/** The pair a refresh gives, failing the test for any other outcome. */
async function refreshed(refreshToken: string): Promise<TokenPair> {
  const outcome = await tokens.refresh(refreshToken);
  if (outcome.kind !== 'refreshed') throw new Error(`refresh: ${outcome.kind}`);
  return outcome.pair;
}

describe('refresh', () => {
  it('rotates: a new pair in the same family, with the grants as they are now', async () => {
    const pair = await tokens.issue(userId, CLIENT);
    await parts.prisma.user.update({ where: { id: userId }, data: { isStaff: true } });
    const next = await refreshed(pair.refreshToken);
    expect(next.refreshToken).not.toBe(pair.refreshToken);
    expect(decodeJwt(next.accessToken)).toMatchObject({ sid: decodeJwt(pair.accessToken).sid, scope: 'staff role:support' });
    expect(await tokens.verify(next.accessToken)).toMatchObject({ userId, familyId: decodeJwt(pair.accessToken).sid, user: { id: userId } });
    expect(await tokens.refresh(next.refreshToken)).toMatchObject({ kind: 'refreshed', pair: { userId } });
  });

  it('a retired refresh token presented again revokes the whole family', async () => {
    const pair = await tokens.issue(userId, CLIENT);
    const next = await refreshed(pair.refreshToken);
    expect(await tokens.refresh(pair.refreshToken)).toEqual({ kind: 'reused', userId });
    expect(await tokens.verify(next.accessToken)).toBeNull();
    expect(await tokens.refresh(next.refreshToken)).toEqual({ kind: 'invalid' });
    expect(await parts.prisma.tokenFamily.count({ where: { userId } })).toBe(0);
  });

  it('of two simultaneous uses of one refresh token, exactly one gets a pair', async () => {
    const pair = await tokens.issue(userId, CLIENT);
    const outcomes = await Promise.all([tokens.refresh(pair.refreshToken), tokens.refresh(pair.refreshToken)]);
    expect(outcomes.map(({ kind }) => kind).sort()).toEqual(['refreshed', 'reused']);
  });

  it.each([
    ['unknown', async () => 'no-such-refresh-token'],
    ['empty', async () => ''],
    ['oversized', async () => 'x'.repeat(10_000)],
    [
      'expired',
      async () => {
        const pair = await tokens.issue(userId, CLIENT);
        await parts.prisma.refreshToken.updateMany({ where: { family: { userId } }, data: { expiresAt: new Date(Date.now() - 1000) } });
        return pair.refreshToken;
      },
    ],
  ])('refuses an %s refresh token as invalid', async (_case, tokenFor) => {
    expect(await tokens.refresh(await tokenFor())).toEqual({ kind: 'invalid' });
  });
});
