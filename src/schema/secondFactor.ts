import { typeBrandKey } from '@pothos/core';
import { wrapErrorIfMatches } from '@pothos/plugin-errors';
import { checkCurrentPassword } from '../auth.ts';
import type { Context } from '../context.ts';
import { EmailNotVerifiedError, InvalidCredentialsError, InvalidSecondFactorError, InvalidTokenError, NotFoundError } from '../errors.ts';
import { findChallenge } from '../secondFactor/challenges.ts';
import { resetSecondFactors, summary, type SecondFactorSummary } from '../secondFactor/factors.ts';
import {
  finishPasskeyRegistration,
  MAX_PASSKEY_NAME_LENGTH,
  removePasskey,
  startPasskeyRegistration,
  startPasskeySignIn,
  type PasskeyRecord,
} from '../secondFactor/passkeys.ts';
import { regenerateRecoveryCodes } from '../secondFactor/recoveryCodes.ts';
import {
  answerPasskeySignIn,
  answerSecondFactor,
  openPasskeySignIn,
  openSecondFactorStep,
  type SecondFactorAnswer,
  type StepOutcome,
} from '../secondFactor/signInStep.ts';
import { confirmTotpSetup, disableTotp, startTotpSetup } from '../secondFactor/totp.ts';
import { completeProvenSignIn } from '../signIn.ts';
import type { TokenPair } from '../tokens.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail, parseUserId } from '../users.ts';
import type { PublicUser } from '../userRows.ts';
import { builder } from './builder.ts';
import { signInMember } from './signIn.ts';
import { badUserInput } from './errors.ts';
import { TokenPairType } from './tokens.ts';
import { UserType } from './user.ts';

const MAX_CODE_LENGTH = 64;

const PasskeyType = builder.objectRef<PasskeyRecord>('Passkey').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

class SecondFactors {
  constructor(readonly summary: SecondFactorSummary) {}
}

builder.objectType(SecondFactors, {
  name: 'SecondFactors',
  isTypeOf: (value) => value instanceof SecondFactors,
  fields: (t) => ({
    totpEnabled: t.boolean({ resolve: (factors) => factors.summary.totpEnabled }),
    recoveryCodesLeft: t.int({ resolve: (factors) => factors.summary.recoveryCodesLeft }),
    passkeys: t.field({ type: [PasskeyType], resolve: (factors) => factors.summary.passkeys }),
  }),
});

class RecoveryCodes {
  constructor(readonly codes: string[]) {}
}

builder.objectType(RecoveryCodes, {
  name: 'RecoveryCodes',
  description: '10 single-use codes, shown only here: each signs in once in place of the second factor.',
  isTypeOf: (value) => value instanceof RecoveryCodes,
  fields: (t) => ({ codes: t.exposeStringList('codes') }),
});

const TotpSetupType = builder.objectRef<{ secret: string; otpauthUri: string }>('TotpSetup').implement({
  description: 'Not active until confirmTotpSetup gets a code from it.',
  fields: (t) => ({
    secret: t.exposeString('secret', { description: 'Base32, for typing into an authenticator app.' }),
    otpauthUri: t.exposeString('otpauthUri', { description: 'otpauth://totp/… for a QR code.' }),
  }),
});

const WebAuthnChallengeFields = (name: string, description: string) =>
  builder.objectRef<{ challenge: string; options: unknown }>(name).implement({
    fields: (t) => ({
      challenge: t.exposeString('challenge', { description: 'Opaque; send it back with the response. Valid 5 minutes, single use.' }),
      options: t.field({ type: 'JSON', description, resolve: (value) => value.options }),
    }),
  });

const PasskeyRegistrationType = WebAuthnChallengeFields('PasskeyRegistration', 'PublicKeyCredentialCreationOptionsJSON');
const PasskeyChallengeType = WebAuthnChallengeFields('PasskeyChallenge', 'PublicKeyCredentialRequestOptionsJSON');

const VerifySecondFactorInput = builder.inputType('VerifySecondFactorInput', {
  description: 'The challenge and exactly one answer.',
  fields: (t) => ({
    challenge: t.string({ required: true }),
    totpCode: t.string(),
    recoveryCode: t.string(),
    passkeyResponse: t.field({ type: 'JSON', description: 'AuthenticationResponseJSON, for the challenge’s passkeyOptions.' }),
  }),
});

const StartPasskeySignInInput = builder.inputType('StartPasskeySignInInput', {
  fields: (t) => ({
    email: t.string({ description: 'Only this account’s passkeys; without it, any discoverable passkey.' }),
    tokens: t.boolean({ description: 'true: the sign-in ends in a TokenPair rather than a cookie session.' }),
  }),
});

const FinishPasskeySignInInput = builder.inputType('FinishPasskeySignInInput', {
  fields: (t) => ({
    challenge: t.string({ required: true }),
    response: t.field({ type: 'JSON', required: true, description: 'AuthenticationResponseJSON' }),
  }),
});

const FinishPasskeyRegistrationInput = builder.inputType('FinishPasskeyRegistrationInput', {
  fields: (t) => ({
    challenge: t.string({ required: true }),
    response: t.field({ type: 'JSON', required: true, description: 'RegistrationResponseJSON' }),
    name: t.string({ description: `How the passkey is listed (at most ${MAX_PASSKEY_NAME_LENGTH} characters).` }),
  }),
});

type SignedIn = PublicUser | TokenPair;
const isTokenPair = (value: object): value is TokenPair => 'accessToken' in value;

/** A union of a signed-in result and expected failures, resolved by what the value is. */
type SignInFailure = typeof InvalidCredentialsError | typeof InvalidSecondFactorError | typeof InvalidTokenError | typeof EmailNotVerifiedError;

function signInUnion(name: string, failures: SignInFailure[]) {
  return builder.unionType(name, {
    types: [UserType, TokenPairType, ...failures],
    resolveType: (value) => {
      // A failure arrives wrapped (see `answer`), carrying its type under Pothos' brand.
      const failure = (value as { [typeBrandKey]?: (typeof failures)[number] })[typeBrandKey];
      if (failure) return failure;
      return isTokenPair(value) ? TokenPairType : UserType;
    },
  });
}

// EmailNotVerifiedError: REQUIRE_VERIFIED_EMAIL refuses an unverified account once it has proved who it is.
const VerifySecondFactorResult = signInUnion('VerifySecondFactorResult', [InvalidSecondFactorError, InvalidTokenError, EmailNotVerifiedError]);
const PasskeySignInResult = signInUnion('PasskeySignInResult', [InvalidCredentialsError, InvalidTokenError, EmailNotVerifiedError]);

/**
 * Expected failures become union members; anything else stays an error. GraphQL treats a returned
 * Error as a thrown one, so they go out wrapped as the errors plugin wraps its own.
 */
async function answer<T>(run: () => Promise<T>, expected: (new (...args: never[]) => Error)[]): Promise<T | Error> {
  try {
    return await run();
  } catch (error) {
    if (expected.some((failure) => error instanceof failure)) return wrapErrorIfMatches(error, expected as never) as Error;
    throw error;
  }
}

function parseAnswer(input: typeof VerifySecondFactorInput.$inferInput): SecondFactorAnswer {
  const given = [input.totpCode, input.recoveryCode, input.passkeyResponse].filter((value) => value != null);
  if (given.length !== 1) throw badUserInput('Give exactly one of totpCode, recoveryCode and passkeyResponse.');
  if (input.totpCode != null) {
    if (input.totpCode.length > MAX_CODE_LENGTH) throw badUserInput(`totpCode must be at most ${MAX_CODE_LENGTH} characters`);
    return { totpCode: input.totpCode };
  }
  if (input.recoveryCode != null) {
    if (input.recoveryCode.length > MAX_CODE_LENGTH) throw badUserInput(`recoveryCode must be at most ${MAX_CODE_LENGTH} characters`);
    return { recoveryCode: input.recoveryCode };
  }
  return { passkeyResponse: input.passkeyResponse };
}

/**
 * The union member for a checked answer, with its audit events: a wrong answer fails with `wrong`,
 * a used-up challenge with InvalidTokenError, and a proven user signs in through the shared path.
 */
async function signInOrFail(context: Context, outcome: StepOutcome, wrong: new () => Error): Promise<SignedIn> {
  if (outcome.kind === 'invalidChallenge') throw new InvalidTokenError();
  if (outcome.kind === 'wrong') {
    await context.record({ kind: 'SECOND_FACTOR_FAILED', userId: outcome.userId, actorId: null });
    throw new wrong();
  }
  if (outcome.method === 'RECOVERY_CODE') {
    await context.record({ kind: 'RECOVERY_CODE_USED', userId: outcome.userId, actorId: outcome.userId });
  }
  const result = await completeProvenSignIn(context, outcome.userId, outcome.mode);
  if (result.kind === 'inactive') throw new InvalidTokenError();
  return signInMember(context, result);
}

/** Changes to one's factors that need the current password again: rate limited like changePassword. */
function withCurrentPassword<T>(context: Context, currentPassword: string, run: () => Promise<T>): Promise<T> {
  return context.guard('secondFactorSettings', {}, async () => {
    if (!(await checkCurrentPassword(context, context.userId!, currentPassword))) throw new InvalidCredentialsError();
    return run();
  });
}

builder.queryFields((t) => ({
  mySecondFactors: t.field({
    type: SecondFactors,
    authScopes: { signedIn: true },
    resolve: async (_root, _args, context) => new SecondFactors(await summary(context.prisma, context.userId!)),
  }),
}));

builder.mutationFields((t) => ({
  verifySecondFactor: t.field({
    type: VerifySecondFactorResult,
    description: 'Completes a sign-in that answered SecondFactorRequired: a cookie session (User) after login, a TokenPair after obtainTokens.',
    args: { input: t.arg({ type: VerifySecondFactorInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const given = parseAnswer(input);
      const step = await openSecondFactorStep(context.prisma, input.challenge);
      return answer(
        () =>
          context.guard('verifySecondFactor', { userId: step.userId ?? undefined }, async () =>
            signInOrFail(context, await answerSecondFactor(context.secondFactors, step, given), InvalidSecondFactorError),
          ),
        [InvalidSecondFactorError, InvalidTokenError, EmailNotVerifiedError],
      );
    },
  }),
  startPasskeySignIn: t.field({
    type: PasskeyChallengeType,
    description: 'Starts a sign-in with a passkey alone. With an email, only that account’s passkeys can answer.',
    args: { input: t.arg({ type: StartPasskeySignInInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.guard('startPasskeySignIn', {}, () => {
        const email = input.email == null ? null : normalizeEmail(input.email);
        if (email !== null && email.length > MAX_EMAIL_LENGTH) throw badUserInput(`email must be at most ${MAX_EMAIL_LENGTH} characters`);
        return startPasskeySignIn(context.secondFactors.passkeys, email || null, input.tokens === true);
      }),
  }),
  finishPasskeySignIn: t.field({
    type: PasskeySignInResult,
    args: { input: t.arg({ type: FinishPasskeySignInInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const step = await openPasskeySignIn(context.prisma, input.challenge, input.response);
      return answer(
        () =>
          context.guard('finishPasskeySignIn', { userId: step.userId ?? undefined }, async () =>
            signInOrFail(context, await answerPasskeySignIn(context.secondFactors, step, input.response), InvalidCredentialsError),
          ),
        [InvalidCredentialsError, InvalidTokenError, EmailNotVerifiedError],
      );
    },
  }),

  startTotpSetup: t.field({
    type: TotpSetupType,
    authScopes: { signedIn: true },
    description: 'A new secret for an authenticator app; nothing changes until confirmTotpSetup gets a code from it.',
    resolve: (_root, _args, context) => startTotpSetup(context.secondFactors, context.userId!, context.config.totpIssuer),
  }),
  confirmTotpSetup: t.field({
    type: RecoveryCodes,
    authScopes: { signedIn: true },
    description: 'Turns the authenticator app on with a code from it, and returns new recovery codes (this once).',
    args: { code: t.arg.string({ required: true }) },
    errors: { types: [InvalidSecondFactorError], directResult: true, union: { name: 'ConfirmTotpSetupResult' } },
    resolve: (_root, { code }, context) =>
      context.guard('confirmTotpSetup', {}, async () => {
        const codes = code.length <= MAX_CODE_LENGTH ? await confirmTotpSetup(context.secondFactors, context.userId!, code.trim()) : null;
        if (!codes) throw new InvalidSecondFactorError();
        await context.record({ kind: 'SECOND_FACTOR_ENABLED', userId: context.userId });
        return new RecoveryCodes(codes);
      }),
  }),
  disableTotp: t.field({
    type: SecondFactors,
    authScopes: { signedIn: true },
    args: { currentPassword: t.arg.string({ required: true }) },
    errors: {
      types: [InvalidCredentialsError, NotFoundError],
      directResult: true,
      union: { name: 'DisableSecondFactorResult' },
      result: { name: 'DisableSecondFactorResult' },
    },
    resolve: (_root, { currentPassword }, context) =>
      withCurrentPassword(context, currentPassword, async () => {
        if (!(await disableTotp(context.prisma, context.userId!))) throw new NotFoundError('Authenticator app');
        await context.record({ kind: 'SECOND_FACTOR_DISABLED', userId: context.userId });
        return new SecondFactors(await summary(context.prisma, context.userId!));
      }),
  }),
  regenerateRecoveryCodes: t.field({
    type: RecoveryCodes,
    authScopes: { signedIn: true },
    description: 'Replaces every recovery code with 10 new ones.',
    args: { currentPassword: t.arg.string({ required: true }) },
    errors: { types: [InvalidCredentialsError], directResult: true, union: { name: 'RegenerateRecoveryCodesResult' } },
    resolve: (_root, { currentPassword }, context) =>
      withCurrentPassword(context, currentPassword, async () => new RecoveryCodes(await regenerateRecoveryCodes(context.prisma, context.userId!))),
  }),
  startPasskeyRegistration: t.field({
    type: PasskeyRegistrationType,
    authScopes: { signedIn: true },
    resolve: (_root, _args, context) => startPasskeyRegistration(context.secondFactors.passkeys, context.userId!),
  }),
  finishPasskeyRegistration: t.field({
    type: PasskeyType,
    authScopes: { signedIn: true },
    args: { input: t.arg({ type: FinishPasskeyRegistrationInput, required: true }) },
    errors: {
      types: [InvalidSecondFactorError, InvalidTokenError],
      directResult: true,
      union: { name: 'FinishPasskeyRegistrationResult' },
    },
    resolve: async (_root, { input }, context) => {
      const name = input.name?.trim() ?? '';
      if ([...name].length > MAX_PASSKEY_NAME_LENGTH) throw badUserInput(`name must be at most ${MAX_PASSKEY_NAME_LENGTH} characters`);
      const challenge = await findChallenge(context.prisma, input.challenge, ['PASSKEY_REGISTRATION']);
      const outcome = await finishPasskeyRegistration(context.secondFactors.passkeys, challenge, context.userId!, input.response, name);
      if (outcome.kind === 'invalidChallenge') throw new InvalidTokenError();
      if (outcome.kind === 'invalid') throw new InvalidSecondFactorError();
      await context.record({ kind: 'PASSKEY_ADDED', userId: context.userId });
      return outcome.passkey;
    },
  }),
  removePasskey: t.field({
    type: SecondFactors,
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }), currentPassword: t.arg.string({ required: true }) },
    errors: {
      types: [InvalidCredentialsError, NotFoundError],
      directResult: true,
      union: { name: 'DisableSecondFactorResult' },
      result: { name: 'DisableSecondFactorResult' },
    },
    resolve: (_root, { id, currentPassword }, context) =>
      withCurrentPassword(context, currentPassword, async () => {
        if (!(await removePasskey(context.prisma, context.userId!, String(id).slice(0, 64)))) throw new NotFoundError('Passkey');
        await context.record({ kind: 'PASSKEY_REMOVED', userId: context.userId });
        return new SecondFactors(await summary(context.prisma, context.userId!));
      }),
  }),

  resetSecondFactors: t.field({
    type: UserType,
    authScopes: { staff: true },
    description: 'Lost device: removes the user’s authenticator app, recovery codes and passkeys, and ends their sessions.',
    args: { userId: t.arg.id({ required: true }) },
    errors: {
      types: [NotFoundError],
      directResult: true,
      union: { name: 'UpdateUserResult' },
      result: { name: 'UpdateUserResult' },
    },
    resolve: async (_root, { userId: id }, context) => {
      const userId = parseUserId(id);
      const user = userId === null ? null : await resetSecondFactors(context.prisma, userId);
      if (!user) throw new NotFoundError();
      await context.record({ kind: 'SECOND_FACTOR_DISABLED', userId });
      return user;
    },
  }),
}));
