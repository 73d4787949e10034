import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Database } from '../db.ts';
import { consumeChallenge, createChallenge, failChallenge, type Challenge } from './challenges.ts';
import { methodsOf, type SecondFactorMethod } from './factors.ts';
import { allowedCredentials, requestOptions, verifyPasskeyAssertion, type PasskeyDeps } from './passkeys.ts';
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

export type AnswerOutcome =
  | { kind: 'passed'; userId: number; method: SecondFactorMethod }
  | { kind: 'wrong'; userId: number }
  /** The challenge was used up by a simultaneous answer. */
  | { kind: 'gone' };

/**
 * Checks an answer to a live SIGN_IN challenge. A wrong one counts against the challenge (the
 * fifth ends it); a right one ends it, and only one simultaneous right answer passes.
 */
export async function answerSecondFactor(deps: SignInStepDeps, challenge: Challenge, answer: SecondFactorAnswer): Promise<AnswerOutcome> {
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
  return (await consumeChallenge(deps.prisma, challenge)) ? { kind: 'passed', userId, method } : { kind: 'gone' };
}
