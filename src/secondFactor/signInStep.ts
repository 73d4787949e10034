import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Database } from '../db.ts';
import type { SignInMode } from '../signIn.ts';
import { consumeChallenge, createChallenge, failChallenge, findChallenge, type Challenge } from './challenges.ts';
import { methodsOf, type SecondFactorMethod } from './factors.ts';
import { allowedCredentials, passkeyOwner, requestOptions, verifyPasskeyAssertion, type PasskeyDeps } from './passkeys.ts';
import { useRecoveryCode } from './recoveryCodes.ts';
import type { SecretBox } from './secretBox.ts';
import { verifyTotp } from './totp.ts';

export interface SignInStepDeps {
  prisma: Database;
  box: SecretBox;
  passkeys: PasskeyDeps;
}

export interface PendingSignIn {
  challenge: string;
  methods: SecondFactorMethod[];
  expiresAt: Date;
  /** WebAuthn request options for this challenge, when the user has passkeys. */
  passkeyOptions: PublicKeyCredentialRequestOptionsJSON | null;
}

/** After a right password: a challenge for the second factor, remembering how the sign-in ends. */
export async function beginSecondFactor(deps: SignInStepDeps, userId: number, tokens: boolean): Promise<PendingSignIn> {
  const methods = await methodsOf(deps.prisma, userId);
  const passkeyOptions = methods.includes('PASSKEY')
    ? await requestOptions(deps.passkeys, await allowedCredentials(deps.prisma, userId), 'preferred')
    : null;
  const { challenge, expiresAt } = await createChallenge(deps.prisma, {
    purpose: 'SIGN_IN',
    userId,
    tokens,
    webauthnChallenge: passkeyOptions?.challenge,
  });
  return { challenge, methods, expiresAt, passkeyOptions };
}

export type SecondFactorAnswer = { totpCode: string } | { recoveryCode: string } | { passkeyResponse: unknown };

/**
 * A sign-in step opened from the challenge a client sent back, before its answer is checked: the
 * account it is about is known first, so that rate limits can count the attempt against it.
 */
export interface OpenStep {
  /** The live challenge, or null: unknown, used, expired or worn out by wrong answers. */
  challenge: Challenge | null;
  /** The account the attempt is about, or null when nothing names one. */
  userId: number | null;
}

export type StepOutcome =
  /** The user is proven; the sign-in ends as the challenge asked (cookie session or tokens). */
  | { kind: 'passed'; userId: number; method: SecondFactorMethod; mode: SignInMode }
  /** A wrong answer, counted against the challenge; userId is the account it was about, if known. */
  | { kind: 'wrong'; userId: number | null }
  /** No live challenge: unknown, used (also by a simultaneous right answer), expired or worn out. */
  | { kind: 'invalidChallenge' };

const modeOf = (challenge: Challenge): SignInMode => (challenge.tokens ? 'tokens' : 'cookie');

/** The second factor step of a password sign-in (the challenge of SecondFactorRequired). */
export async function openSecondFactorStep(prisma: Database, challengeId: string): Promise<OpenStep> {
  const challenge = await findChallenge(prisma, challengeId, ['SIGN_IN']);
  return { challenge, userId: challenge?.userId ?? null };
}

/**
 * Checks an answer to a second factor step. A wrong one counts against the challenge (the fifth
 * ends it); a right one ends it, and only one simultaneous right answer passes.
 */
export async function answerSecondFactor(deps: SignInStepDeps, step: OpenStep, answer: SecondFactorAnswer): Promise<StepOutcome> {
  const { challenge } = step;
  if (!challenge) return { kind: 'invalidChallenge' };
  const userId = challenge.userId!;
  let method: SecondFactorMethod;
  let passed: boolean;
  if ('totpCode' in answer) {
    method = 'TOTP';
    passed = await verifyTotp(deps, userId, answer.totpCode.trim());
  } else if ('recoveryCode' in answer) {
    method = 'RECOVERY_CODE';
    passed = await useRecoveryCode(deps.prisma, userId, answer.recoveryCode);
  } else {
    method = 'PASSKEY';
    passed =
      (await verifyPasskeyAssertion(deps.passkeys, challenge, answer.passkeyResponse, { userId, requireUserVerification: false })) ===
      userId;
  }
  if (!passed) {
    await failChallenge(deps.prisma, challenge);
    return { kind: 'wrong', userId };
  }
  return (await consumeChallenge(deps.prisma, challenge)) ? { kind: 'passed', userId, method, mode: modeOf(challenge) } : { kind: 'invalidChallenge' };
}

/**
 * A passkey sign-in (startPasskeySignIn's challenge). The account it is about is the challenge's
 * (an email was given) or else the one the response claims its passkey belongs to.
 */
export async function openPasskeySignIn(prisma: Database, challengeId: string, response: unknown): Promise<OpenStep> {
  const challenge = await findChallenge(prisma, challengeId, ['PASSKEY_SIGN_IN', 'PASSKEY_SIGN_IN_NOBODY']);
  return { challenge, userId: challenge?.userId ?? (await passkeyOwner(prisma, response)) };
}

/**
 * Checks a passkey assertion, with user verification, as the whole proof of who signs in. A
 * challenge made for an email without passkeys fails every answer, like a wrong one.
 */
export async function answerPasskeySignIn(deps: SignInStepDeps, step: OpenStep, response: unknown): Promise<StepOutcome> {
  const { challenge } = step;
  if (!challenge) return { kind: 'invalidChallenge' };
  const userId =
    challenge.purpose === 'PASSKEY_SIGN_IN'
      ? await verifyPasskeyAssertion(deps.passkeys, challenge, response, { userId: challenge.userId, requireUserVerification: true })
      : null;
  if (userId === null) {
    await failChallenge(deps.prisma, challenge);
    return { kind: 'wrong', userId: step.userId };
  }
  if (!(await consumeChallenge(deps.prisma, challenge))) return { kind: 'invalidChallenge' };
  return { kind: 'passed', userId, method: 'PASSKEY', mode: modeOf(challenge) };
}
