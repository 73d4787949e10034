import { authenticate } from '../auth.ts';
import type { Context } from '../context.ts';
import { EmailNotVerifiedError, InvalidCredentialsError } from '../errors.ts';
import { beginSecondFactor, type PendingSignIn } from '../secondFactor/signInStep.ts';
import { completeSignIn, type SignInResult } from '../signIn.ts';
import type { TokenPair } from '../tokens.ts';
import { normalizeEmail } from '../users.ts';
import type { PublicUser } from '../userRows.ts';
import { builder } from './builder.ts';

/** The answer to a right password when the account has a second factor; thrown so the errors plugin puts it in the union. */
export class SecondFactorRequired extends Error {
  override name = 'SecondFactorRequired';
  constructor(readonly pending: PendingSignIn) {
    super('A second factor is required.');
  }
}

export const SecondFactorMethodType = builder.enumType('SecondFactorMethod', {
  values: ['TOTP', 'RECOVERY_CODE', 'PASSKEY'] as const,
});

builder.objectType(SecondFactorRequired, {
  name: 'SecondFactorRequired',
  description: 'The password was right; finish the sign-in with verifySecondFactor. No session or token exists yet.',
  isTypeOf: (value) => value instanceof SecondFactorRequired,
  fields: (t) => ({
    challenge: t.string({
      description: 'Opaque; valid 5 minutes, ends at its first success or 5th wrong answer.',
      resolve: (required) => required.pending.challenge,
    }),
    methods: t.field({ type: [SecondFactorMethodType], resolve: (required) => required.pending.methods }),
    expiresAt: t.field({ type: 'DateTime', resolve: (required) => required.pending.expiresAt }),
    passkeyOptions: t.field({
      type: 'JSON',
      nullable: true,
      description: 'PublicKeyCredentialRequestOptionsJSON for this challenge, when PASSKEY is offered.',
      resolve: (required) => required.pending.passkeyOptions,
    }),
  }),
});

/**
 * The password step shared by login and obtainTokens: rate limited, audited, failing with
 * InvalidCredentialsError for every kind of wrong answer, and asking for the second factor
 * (SecondFactorRequired) before any session or token exists when the account has one.
 */
export function passwordSignIn(context: Context, input: { email: string; password: string }, mode: 'cookie'): Promise<PublicUser>;
export function passwordSignIn(context: Context, input: { email: string; password: string }, mode: 'tokens'): Promise<TokenPair>;
export function passwordSignIn(context: Context, input: { email: string; password: string }, mode: 'cookie' | 'tokens') {
  const email = normalizeEmail(input.email);
  return context.guard('login', { email }, async () => {
    const result = await authenticate(context, email, input.password);
    if (result.outcome === 'failed') {
      await context.record({ kind: 'LOGIN_FAILED', userId: result.accountId, actorId: null, email });
      throw new InvalidCredentialsError();
    }
    if (result.outcome === 'secondFactor') {
      throw new SecondFactorRequired(await beginSecondFactor(context.secondFactors, result.userId, mode === 'tokens'));
    }
    return signInMember(context, await completeSignIn(context, result.user, mode));
  });
}

/** The union member for a finished sign-in, with its audit event. */
export async function signInMember(context: Context, result: SignInResult): Promise<PublicUser | TokenPair> {
  const { user } = result;
  if (result.kind === 'emailNotVerified') {
    await context.record({ kind: 'LOGIN_FAILED', userId: user.id, actorId: null, email: user.email });
    throw new EmailNotVerifiedError();
  }
  const kind = result.kind === 'tokens' ? 'TOKENS_ISSUED' : 'LOGIN_SUCCEEDED';
  await context.record({ kind, userId: user.id, actorId: user.id, email: user.email });
  return result.kind === 'tokens' ? result.pair : user;
}
