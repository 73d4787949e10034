import type { AuthEventRecord } from './audit.ts';
import { recordLogin } from './auth.ts';
import type { Config } from './config.ts';
import type { Database } from './db.ts';
import { EmailNotVerifiedError, InvalidTokenError } from './errors.ts';
import type { ClientInfo, TokenPair, TokenService } from './tokens.ts';
import type { PublicUser } from './users.ts';

/** How a sign-in ends: a cookie session (login) or a token pair (obtainTokens). */
export type SignInMode = 'cookie' | 'tokens';

export interface SignInDeps {
  config: Pick<Config, 'requireVerifiedEmail'>;
  /** The client signing in, recorded with its tokens. */
  client: ClientInfo;
  /** Starts the browser's cookie session (under a new id). */
  cookieSession: { start(userId: number): Promise<unknown> };
  tokens: TokenService;
  record: (event: AuthEventRecord) => Promise<void>;
}

/**
 * The one way a user who has proved who they are (password, second factor, passkey) becomes
 * signed in: a cookie session or a token pair, and its audit event. Every sign-in ends here.
 */
export async function completeSignIn(deps: SignInDeps, user: PublicUser, mode: 'cookie'): Promise<PublicUser>;
export async function completeSignIn(deps: SignInDeps, user: PublicUser, mode: 'tokens'): Promise<TokenPair>;
export async function completeSignIn(deps: SignInDeps, user: PublicUser, mode: SignInMode): Promise<PublicUser | TokenPair>;
export async function completeSignIn(deps: SignInDeps, user: PublicUser, mode: SignInMode): Promise<PublicUser | TokenPair> {
  // REQUIRE_VERIFIED_EMAIL, applied only once the user has proved who they are, so the answer
  // tells a guesser nothing; no session or token exists when it refuses.
  if (deps.config.requireVerifiedEmail && !user.emailVerified) {
    await deps.record({ kind: 'LOGIN_FAILED', userId: user.id, actorId: null, email: user.email });
    throw new EmailNotVerifiedError();
  }
  if (mode === 'tokens') {
    const pair = await deps.tokens.issue(user.id, deps.client);
    await deps.record({ kind: 'TOKENS_ISSUED', userId: user.id, actorId: user.id, email: user.email });
    return pair;
  }
  await deps.cookieSession.start(user.id);
  await deps.record({ kind: 'LOGIN_SUCCEEDED', userId: user.id, actorId: user.id, email: user.email });
  return user;
}

/**
 * Signs in a user proven some other way than a password alone (a second factor, a passkey). An
 * account deleted or deactivated since the proof began does not sign in: InvalidTokenError, as for
 * a challenge that is no longer valid.
 */
export async function completeProvenSignIn(
  deps: SignInDeps & { prisma: Database },
  userId: number,
  mode: SignInMode,
): Promise<PublicUser | TokenPair> {
  const user = await recordLogin(deps, userId);
  if (!user) throw new InvalidTokenError();
  return completeSignIn(deps, user, mode);
}
