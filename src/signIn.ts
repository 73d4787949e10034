import { recordLogin } from './auth.ts';
import type { Config } from './config.ts';
import type { Database } from './db.ts';
import type { ClientInfo, TokenPair, TokenService } from './tokens.ts';
import type { PublicUser } from './userRows.ts';

/** How a sign-in ends: a cookie session (login) or a token pair (obtainTokens). */
export type SignInMode = 'cookie' | 'tokens';

export interface SignInDeps {
  config: Pick<Config, 'requireVerifiedEmail'>;
  /** The client signing in, recorded with its tokens. */
  client: ClientInfo;
  /** Starts the browser's cookie session (under a new id). */
  cookieSession: { start(userId: number): Promise<unknown> };
  tokens: TokenService;
}

export type SignInResult =
  | { kind: 'cookie'; user: PublicUser }
  | { kind: 'tokens'; user: PublicUser; pair: TokenPair }
  /** REQUIRE_VERIFIED_EMAIL refuses the account: no session or token exists. */
  | { kind: 'emailNotVerified'; user: PublicUser };

/**
 * The one way a user who has proved who they are (password, second factor, passkey) becomes
 * signed in: a cookie session or a token pair. Every sign-in ends here.
 */
export async function completeSignIn(deps: SignInDeps, user: PublicUser, mode: SignInMode): Promise<SignInResult> {
  // REQUIRE_VERIFIED_EMAIL, applied only once the user has proved who they are, so the answer
  // tells a guesser nothing.
  if (deps.config.requireVerifiedEmail && !user.emailVerified) return { kind: 'emailNotVerified', user };
  if (mode === 'tokens') return { kind: 'tokens', user, pair: await deps.tokens.issue(user.id, deps.client) };
  await deps.cookieSession.start(user.id);
  return { kind: 'cookie', user };
}

/**
 * Signs in a user proven some other way than a password alone (a second factor, a passkey),
 * recording the login. An account deleted or deactivated since the proof began does not sign in.
 */
export async function completeProvenSignIn(
  deps: SignInDeps & { prisma: Database },
  userId: number,
  mode: SignInMode,
): Promise<SignInResult | { kind: 'inactive' }> {
  const user = await recordLogin(deps, userId);
  if (!user) return { kind: 'inactive' };
  return completeSignIn(deps, user, mode);
}
