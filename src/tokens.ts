import { createSecretKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from './config.ts';
import type { Database, DirectReads } from './db.ts';
import { digest, MAX_TOKEN_LENGTH, randomToken } from './opaqueTokens.ts';
import { secretKid, type SigningKey } from './signingKeys.ts';
import { roleSet } from './roles.ts';
import { USER_COLUMNS_SQL, userFromRow, type RawUserRow, type PublicUser } from './userRows.ts';

/** The issuer of HS256 tokens signed before issuer and audience were configurable. */
const LEGACY_ISSUER = 'auth-api';
/** Room for the largest token this service signs (every role at its longest) with a margin. */
const MAX_ACCESS_TOKEN_LENGTH = 8192;
/** Claims every access token this service signs carries; a token without one is refused. */
const REQUIRED_CLAIMS = ['exp', 'iat', 'sub', 'sid'];

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

export type RefreshOutcome =
  | { kind: 'refreshed'; pair: TokenPair }
  /** Unknown, expired, or no refresh token at all. */
  | { kind: 'invalid' }
  /** A retired token presented again: its family is revoked. The user is whose family it was. */
  | { kind: 'reused'; userId: number };

export interface AccessClaims {
  userId: number;
  familyId: string;
  /** The user's public columns, read with the token's family (null: the user is gone). */
  user: PublicUser | null;
}

/** What an access token says about its user besides who they are. */
export interface Grants {
  isStaff: boolean;
  roles: readonly string[];
}

/** `scope`: `staff` for staff, then `role:<name>` for each role. */
export function scopeOf({ isStaff, roles }: Grants): string {
  return [...(isStaff ? ['staff'] : []), ...roles.map((role) => `role:${role}`)].join(' ');
}

const grantsSelect = { isStaff: true, roles: { select: { role: true } } } as const;

function grantsOf(user: { isStaff: boolean; roles: { role: string }[] }): Grants {
  return { isStaff: user.isStaff, roles: roleSet(user.roles.map(({ role }) => role)) };
}

interface HmacKey {
  kid: string;
  key: KeyObject;
}

export interface ClientInfo {
  userAgent: string | null;
  ipAddress: string | null;
}

export interface TokenServiceOptions {
  prisma: Database;
  /** A token's family and its user are read here, in one statement, on every bearer request. */
  reads: DirectReads;
  /** The first signs; every one verifies (see `Config.jwtSigningKeys`). */
  signingKeys: readonly SigningKey[];
  /** HS256 secrets: all verify; the first signs only when there is no signing key. */
  secrets: readonly string[];
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlMs: number;
}

/** A token's family and its user, as `verify` reads them. */
const FAMILY_WITH_USER_SQL = `
  SELECT f."userId" AS "familyUserId", f."expiresAt", ${USER_COLUMNS_SQL}
  FROM "TokenFamily" f LEFT JOIN "User" u ON u."id" = f."userId"
  WHERE f."id" = ?`;

type FamilyRow = RawUserRow & { familyUserId: number | bigint; expiresAt: Date | string };

/** The options the JWT_* and token lifetime settings give. */
export function tokenSettings(
  config: Pick<Config, 'jwtSigningKeys' | 'jwtSecrets' | 'jwtIssuer' | 'jwtAudience' | 'accessTokenTtlSeconds' | 'refreshTokenTtlMs'>,
): Omit<TokenServiceOptions, 'prisma' | 'reads'> {
  return {
    signingKeys: config.jwtSigningKeys,
    secrets: config.jwtSecrets,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshTokenTtlMs: config.refreshTokenTtlMs,
  };
}

/**
 * Access tokens are short-lived JWTs naming the user, the token family and what the user may do
 * (roles, staff), signed with an asymmetric key other services verify through the published JWKS
 * (or HS256 with JWT_SECRET where no key is configured). Refresh tokens are opaque, single use,
 * and rotate within the family. A family is one sign-in: deleting it revokes its refresh tokens
 * and, on their next request here, its access tokens.
 */
export class TokenService {
  private readonly prisma: Database;
  private readonly reads: DirectReads;
  private readonly signingKeys: readonly SigningKey[];
  private readonly keysById: Map<string, SigningKey>;
  private readonly hmacKeys: HmacKey[];
  private readonly issuer: string;
  private readonly audience: string;
  private readonly accessTokenTtlSeconds: number;
  private readonly refreshTokenTtlMs: number;

  constructor(options: TokenServiceOptions) {
    if (options.signingKeys.length === 0 && options.secrets.length === 0) throw new Error('TokenService needs a signing key or a secret');
    this.prisma = options.prisma;
    this.reads = options.reads;
    this.signingKeys = options.signingKeys;
    this.keysById = new Map(options.signingKeys.map((key) => [key.kid, key]));
    this.hmacKeys = options.secrets.map((secret) => ({ kid: secretKid(secret), key: createSecretKey(Buffer.from(secret, 'utf8')) }));
    this.issuer = options.issuer;
    this.audience = options.audience;
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds;
    this.refreshTokenTtlMs = options.refreshTokenTtlMs;
  }

  /** Starts a token family for a user who has just proved who they are. */
  async issue(userId: number, client: ClientInfo): Promise<TokenPair> {
    const familyId = randomToken(18);
    const refreshToken = randomToken();
    const expiresAt = new Date(Date.now() + this.refreshTokenTtlMs);
    const { user } = await this.prisma.tokenFamily.create({
      data: { id: familyId, userId, expiresAt, ...client, refreshTokens: { create: { id: digest(refreshToken), expiresAt } } },
      select: { user: { select: grantsSelect } },
    });
    return { ...(await this.signAccessToken(userId, familyId, grantsOf(user))), refreshToken, userId };
  }

  /**
   * Trades a refresh token for a new pair and retires it. A retired token presented again means
   * it was stolen (or the client is broken): the whole family is revoked.
   */
  async refresh(refreshToken: string): Promise<RefreshOutcome> {
    if (refreshToken.length === 0 || refreshToken.length > MAX_TOKEN_LENGTH) return { kind: 'invalid' };
    const id = digest(refreshToken);
    const stored = await this.prisma.refreshToken.findUnique({
      where: { id },
      select: { familyId: true, expiresAt: true, usedAt: true, family: { select: { userId: true, user: { select: grantsSelect } } } },
    });
    if (!stored || stored.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' };
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
      return { kind: 'reused', userId: stored.family.userId };
    }
    // Roles and staff status as they are now: a change reaches the user's next access token.
    const grants = grantsOf(stored.family.user);
    const access = await this.signAccessToken(stored.family.userId, stored.familyId, grants);
    return { kind: 'refreshed', pair: { ...access, refreshToken: next, userId: stored.family.userId } };
  }

  /** The claims of a valid, unexpired access token whose family is still live; otherwise null. */
  async verify(accessToken: string): Promise<AccessClaims | null> {
    if (accessToken.length > MAX_ACCESS_TOKEN_LENGTH) return null;
    const payload = await this.verifySignature(accessToken);
    if (!payload || !hasIssuableLifetime(payload, this.accessTokenTtlSeconds)) return null;
    const userId = Number(payload.sub);
    const familyId = payload.sid;
    if (!Number.isSafeInteger(userId) || typeof familyId !== 'string') return null;
    const family = await this.reads.get<FamilyRow>(FAMILY_WITH_USER_SQL, familyId);
    if (!family || Number(family.familyUserId) !== userId || new Date(family.expiresAt).getTime() <= Date.now()) return null;
    return { userId, familyId, user: userFromRow(family) };
  }

  /**
   * The payload of a token signed by one of this service's keys for its issuer and audience. The
   * header's `alg` must be the one of the key its `kid` names: an asymmetric key never verifies
   * an HS256 token (nor its public half serves as a secret), and `none` names no key at all.
   */
  private async verifySignature(token: string): Promise<JWTPayload | null> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return null;
    }
    if (header.alg === 'HS256') return this.verifyHmac(token, header.kid);
    const key = typeof header.kid === 'string' ? this.keysById.get(header.kid) : undefined;
    if (!key || header.alg !== key.alg) return null;
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg],
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: REQUIRED_CLAIMS,
      });
      return payload;
    } catch {
      return null;
    }
  }

  /**
   * HS256 tokens of a JWT_SECRET. Those signed before `kid`, `aud` and JWT_ISSUER existed carry no
   * `kid` (every secret is tried), the issuer `auth-api` and no audience; they stay valid for the
   * rest of their short life, so an upgrade signs nobody out.
   */
  private async verifyHmac(token: string, kid: unknown): Promise<JWTPayload | null> {
    const candidates = kid === undefined ? this.hmacKeys : this.hmacKeys.filter((key) => key.kid === kid);
    for (const { key } of candidates) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: kid === undefined ? [this.issuer, LEGACY_ISSUER] : this.issuer,
          requiredClaims: REQUIRED_CLAIMS,
        });
        if (kid !== undefined || payload.aud !== undefined) {
          const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
          if (!audiences.includes(this.audience)) return null;
        }
        return payload;
      } catch (error) {
        // A signature made with another secret may be valid under the next one; nothing else is.
        if (!(error instanceof errors.JWSSignatureVerificationFailed)) return null;
      }
    }
    return null;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.prisma.tokenFamily.deleteMany({ where: { id: familyId } });
  }

  private async signAccessToken(userId: number, familyId: string, grants: Grants) {
    const accessTokenExpiresAt = new Date((Math.floor(Date.now() / 1000) + this.accessTokenTtlSeconds) * 1000);
    const signer = this.signingKeys[0];
    const hmac = this.hmacKeys[0]!;
    const accessToken = await new SignJWT({ sid: familyId, roles: [...grants.roles], scope: scopeOf(grants) })
      .setProtectedHeader(signer ? { alg: signer.alg, kid: signer.kid, typ: 'JWT' } : { alg: 'HS256', kid: hmac.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(String(userId))
      .setIssuedAt()
      .setExpirationTime(accessTokenExpiresAt)
      .sign(signer ? signer.privateKey : hmac.key);
    return { accessToken, accessTokenExpiresAt };
  }
}
