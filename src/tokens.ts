import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Database } from './db.ts';
import { InvalidTokenError } from './errors.ts';
import { digest, MAX_TOKEN_LENGTH, randomToken } from './opaqueTokens.ts';

const ISSUER = 'auth-api';

/** How far apart the clocks of the instances that sign and verify tokens may be. */
export const CLOCK_SKEW_SECONDS = 30;

/**
 * Whether a correctly signed token claims a lifetime this service could have given it: `exp`
 * and `iat` present, issued no later than now, and living no longer than the configured TTL (each
 * give or take the clock skew). A token minted with the key but outside these bounds (no expiry,
 * an expiry years ahead, an issue time in the future) is refused, so a leaked key or a signing
 * bug cannot produce tokens that stay valid for longer than any this service hands out.
 */
export function hasIssuableLifetime(payload: JWTPayload, accessTokenTtlSeconds: number, nowSeconds = Date.now() / 1000): boolean {
  const { exp, iat } = payload;
  if (typeof exp !== 'number' || typeof iat !== 'number' || !Number.isFinite(exp) || !Number.isFinite(iat)) return false;
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) return false;
  return exp - iat <= accessTokenTtlSeconds + CLOCK_SKEW_SECONDS;
}

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  userId: number;
}

export interface AccessClaims {
  userId: number;
  familyId: string;
}

export interface ClientInfo {
  userAgent: string | null;
  ipAddress: string | null;
}

export interface TokenServiceOptions {
  prisma: Database;
  /** The first signs; every one verifies, so a secret can be rotated without signing anyone out. */
  secrets: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlMs: number;
}

/**
 * Access tokens are short-lived HS256 JWTs naming the user and the token family; refresh tokens
 * are opaque, single use, and rotate within the family. A family is one sign-in: deleting it
 * revokes its refresh tokens and, on their next request, its access tokens.
 */
export class TokenService {
  private readonly prisma: Database;
  private readonly keys: Uint8Array[];
  private readonly accessTokenTtlSeconds: number;
  private readonly refreshTokenTtlMs: number;

  constructor(options: TokenServiceOptions) {
    this.prisma = options.prisma;
    this.keys = options.secrets.map((secret) => new TextEncoder().encode(secret));
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds;
    this.refreshTokenTtlMs = options.refreshTokenTtlMs;
  }

  /** Starts a token family for a user who has just proved who they are. */
  async issue(userId: number, client: ClientInfo): Promise<TokenPair> {
    const familyId = randomToken(18);
    const refreshToken = randomToken();
    const expiresAt = new Date(Date.now() + this.refreshTokenTtlMs);
    await this.prisma.tokenFamily.create({
      data: { id: familyId, userId, expiresAt, ...client, refreshTokens: { create: { id: digest(refreshToken), expiresAt } } },
    });
    return { ...(await this.signAccessToken(userId, familyId)), refreshToken, userId };
  }

  /**
   * Trades a refresh token for a new pair and retires it. A retired token presented again means
   * it was stolen (or the client is broken): the whole family is revoked.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    if (refreshToken.length === 0 || refreshToken.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError();
    const id = digest(refreshToken);
    const stored = await this.prisma.refreshToken.findUnique({
      where: { id },
      select: { familyId: true, expiresAt: true, usedAt: true, family: { select: { userId: true } } },
    });
    if (!stored) throw new InvalidTokenError();
    if (stored.expiresAt.getTime() <= Date.now()) throw new InvalidTokenError();
    const next = randomToken();
    // Retiring the old token and adding the new one commit together: of two simultaneous uses
    // exactly one gets a pair, and the other, finding the token retired, revokes the family.
    const rotated = await this.prisma.$transaction(async (tx) => {
      const now = new Date();
      const { count } = await tx.refreshToken.updateMany({ where: { id, usedAt: null }, data: { usedAt: now } });
      if (count === 0) return false;
      const expiresAt = new Date(now.getTime() + this.refreshTokenTtlMs);
      await tx.tokenFamily.update({
        where: { id: stored.familyId },
        data: { lastSeenAt: now, expiresAt, refreshTokens: { create: { id: digest(next), expiresAt } } },
      });
      return true;
    });
    if (!rotated) {
      await this.revokeFamily(stored.familyId);
      throw new RefreshTokenReusedError(stored.family.userId);
    }
    return { ...(await this.signAccessToken(stored.family.userId, stored.familyId)), refreshToken: next, userId: stored.family.userId };
  }

  /** The claims of a valid, unexpired access token whose family is still live; otherwise null. */
  async verify(accessToken: string): Promise<AccessClaims | null> {
    if (accessToken.length > 2048) return null;
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(accessToken, key, { issuer: ISSUER, algorithms: ['HS256'] });
        if (!hasIssuableLifetime(payload, this.accessTokenTtlSeconds)) return null;
        const userId = Number(payload.sub);
        const familyId = payload.sid;
        if (!Number.isSafeInteger(userId) || typeof familyId !== 'string') return null;
        const family = await this.prisma.tokenFamily.findUnique({ where: { id: familyId }, select: { userId: true, expiresAt: true } });
        if (!family || family.userId !== userId || family.expiresAt.getTime() <= Date.now()) return null;
        return { userId, familyId };
      } catch (error) {
        // A signature made with another key may be valid under the next one; nothing else is.
        if (!(error instanceof errors.JWSSignatureVerificationFailed)) return null;
      }
    }
    return null;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.prisma.tokenFamily.deleteMany({ where: { id: familyId } });
  }

  private async signAccessToken(userId: number, familyId: string) {
    const accessTokenExpiresAt = new Date((Math.floor(Date.now() / 1000) + this.accessTokenTtlSeconds) * 1000);
    const accessToken = await new SignJWT({ sid: familyId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(String(userId))
      .setIssuedAt()
      .setExpirationTime(accessTokenExpiresAt)
      .sign(this.keys[0]!);
    return { accessToken, accessTokenExpiresAt };
  }
}

/** Reuse of a retired refresh token; clients see an InvalidTokenError like any other. */
export class RefreshTokenReusedError extends InvalidTokenError {
  constructor(readonly userId: number) {
    super();
  }
}
