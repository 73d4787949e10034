// The second step of a sign-in (src/secondFactor/signInStep.ts) and the sign-in it ends in
// (src/signIn.ts) called directly on a real database: each answer's outcome, and what it leaves
// behind in the challenge and the factors.
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHALLENGE_FAILURES } from '../../src/secondFactor/challenges.ts';
import { resetSecondFactors } from '../../src/secondFactor/factors.ts';
import { startPasskeyRegistration, startPasskeySignIn } from '../../src/secondFactor/passkeys.ts';
import { SecretBox } from '../../src/secondFactor/secretBox.ts';
import {
  answerPasskeySignIn,
  answerSecondFactor,
  beginSecondFactor,
  openPasskeySignIn,
  openSecondFactorStep,
  type SignInStepDeps,
} from '../../src/secondFactor/signInStep.ts';
import { confirmTotpSetup, startTotpSetup } from '../../src/secondFactor/totp.ts';
import { completeProvenSignIn, type SignInDeps } from '../../src/signIn.ts';
import { TokenService, tokenSettings } from '../../src/tokens.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';

const STEP_MS = 30_000;

let parts: DomainParts;
let deps: SignInStepDeps;

beforeAll(async () => {
  parts = await domainParts();
  const { config, prisma } = parts;
  deps = {
    prisma,
    box: new SecretBox(config.totpEncryptionKeys),
    passkeys: { prisma, webauthn: config.webauthn, decoyKey: config.totpEncryptionKeys[0]! },
  };
});
afterAll(() => parts?.close());

/** A code of `secret` at `steps` time steps from now, as an authenticator app shows it. */
function codeAt(secret: string, steps = 0): string {
  return new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({
    timestamp: Date.now() + steps * STEP_MS,
  });
}

/** Waits, when needed, so that the codes of a test are checked within the step they were made for. */
async function awayFromStepEnd(ms = 5_000): Promise<void> {
  const left = STEP_MS - (Date.now() % STEP_MS);
  if (left < ms) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** A user with an authenticator app on (set up with the previous step's code) and its recovery codes. */
async function userWithTotp(fields: { isActive?: boolean } = {}) {
  await awayFromStepEnd();
  const user = await parts.prisma.user.create({
    data: { email: `${randomUUID()}@second-factor.test`, passwordHash: 'unused', ...fields },
    select: { id: true, email: true },
  });
  const { secret, otpauthUri } = await startTotpSetup(deps, user.id, 'domain-test');
  expect(otpauthUri).toMatch(new RegExp(`^otpauth://totp/domain-test:${encodeURIComponent(user.email)}\\?`));
  const recoveryCodes = await confirmTotpSetup(deps, user.id, codeAt(secret, -1));
  expect(recoveryCodes).toHaveLength(10);
  return { ...user, secret, recoveryCodes: recoveryCodes! };
}

const challengeRow = (challenge: string) => openSecondFactorStep(parts.prisma, challenge).then((step) => step.challenge);

describe('answerSecondFactor', () => {
  it('passes the right code once, names the account and how the sign-in ends, and ends the challenge', async () => {
    const user = await userWithTotp();
    const pending = await beginSecondFactor(deps, user.id, true);
    expect(pending.methods).toContain('TOTP');
    const step = await openSecondFactorStep(parts.prisma, pending.challenge);
    expect(step.userId).toBe(user.id);
    expect(await answerSecondFactor(deps, step, { totpCode: ` ${codeAt(user.secret)} ` })).toEqual({
      kind: 'passed',
      userId: user.id,
      method: 'TOTP',
      mode: 'tokens',
    });
    // Used: the same challenge opens as nothing, and an answer to the step already open fails.
    expect(await openSecondFactorStep(parts.prisma, pending.challenge)).toEqual({ challenge: null, userId: null });
    const again = await beginSecondFactor(deps, user.id, false);
    expect(await answerSecondFactor(deps, step, { recoveryCode: user.recoveryCodes[0]! })).toEqual({ kind: 'invalidChallenge' });
    // The cookie mode is remembered by the challenge, and a code works once: the next step's does.
    const next = await openSecondFactorStep(parts.prisma, again.challenge);
    expect(await answerSecondFactor(deps, next, { totpCode: codeAt(user.secret) })).toEqual({ kind: 'wrong', userId: user.id });
    expect(await answerSecondFactor(deps, next, { totpCode: codeAt(user.secret, 1) })).toMatchObject({ kind: 'passed', mode: 'cookie' });
  });

  it('counts a wrong code against the challenge, and the fifth ends it', async () => {
    const user = await userWithTotp();
    const pending = await beginSecondFactor(deps, user.id, false);
    const step = await openSecondFactorStep(parts.prisma, pending.challenge);
    const wrong = codeAt(user.secret) === '000000' ? '000001' : '000000';
    for (let failure = 1; failure < MAX_CHALLENGE_FAILURES; failure++) {
      expect(await answerSecondFactor(deps, step, { totpCode: wrong })).toEqual({ kind: 'wrong', userId: user.id });
      const row = await parts.prisma.secondFactorChallenge.findFirstOrThrow({ where: { userId: user.id } });
      expect(row.failures).toBe(failure);
    }
    expect(await answerSecondFactor(deps, step, { totpCode: 'not a code' })).toEqual({ kind: 'wrong', userId: user.id });
    expect(await challengeRow(pending.challenge)).toBeNull();
    // The right code no longer passes on a worn-out challenge.
    expect(await answerSecondFactor(deps, step, { totpCode: codeAt(user.secret) })).toEqual({ kind: 'invalidChallenge' });
    expect(await parts.prisma.secondFactorChallenge.count({ where: { userId: user.id } })).toBe(0);
  });

  it('refuses an unknown, an expired and a used challenge', async () => {
    const user = await userWithTotp();
    const unknown = await openSecondFactorStep(parts.prisma, 'no-such-challenge');
    expect(unknown).toEqual({ challenge: null, userId: null });
    expect(await answerSecondFactor(deps, unknown, { totpCode: codeAt(user.secret) })).toEqual({ kind: 'invalidChallenge' });
    expect(await openSecondFactorStep(parts.prisma, '')).toEqual({ challenge: null, userId: null });

    // Expired before it was opened, and expired between opening and answering.
    const late = await beginSecondFactor(deps, user.id, false);
    const open = await openSecondFactorStep(parts.prisma, late.challenge);
    await parts.prisma.secondFactorChallenge.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect(await openSecondFactorStep(parts.prisma, late.challenge)).toEqual({ challenge: null, userId: null });
    expect(await answerSecondFactor(deps, open, { totpCode: codeAt(user.secret) })).toEqual({ kind: 'invalidChallenge' });

    // A challenge of another purpose (a passkey sign-in) is not a second factor step.
    const passkey = await startPasskeySignIn(deps.passkeys, null, false);
    expect(await openSecondFactorStep(parts.prisma, passkey.challenge)).toEqual({ challenge: null, userId: null });
  });

  it('passes a recovery code once, as RECOVERY_CODE', async () => {
    const user = await userWithTotp();
    const [code] = user.recoveryCodes;
    const first = await openSecondFactorStep(parts.prisma, (await beginSecondFactor(deps, user.id, false)).challenge);
    expect(await answerSecondFactor(deps, first, { recoveryCode: code! })).toEqual({
      kind: 'passed',
      userId: user.id,
      method: 'RECOVERY_CODE',
      mode: 'cookie',
    });
    const second = await openSecondFactorStep(parts.prisma, (await beginSecondFactor(deps, user.id, false)).challenge);
    expect(await answerSecondFactor(deps, second, { recoveryCode: code! })).toEqual({ kind: 'wrong', userId: user.id });
    expect(await answerSecondFactor(deps, second, { recoveryCode: user.recoveryCodes[1]! })).toMatchObject({ kind: 'passed', method: 'RECOVERY_CODE' });
    expect(await parts.prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(8);
  });
});

describe('startPasskeyRegistration', () => {
  it('names the passkey after the user’s email, under a challenge of the user', async () => {
    const user = await userWithTotp();
    const { challenge, options } = await startPasskeyRegistration(deps.passkeys, user.id);
    expect(options.user).toMatchObject({ name: user.email });
    const row = await parts.prisma.secondFactorChallenge.findFirstOrThrow({ where: { webauthnChallenge: options.challenge } });
    expect(row).toMatchObject({ purpose: 'PASSKEY_REGISTRATION', userId: user.id });
    expect(challenge).not.toBe(options.challenge);
  });
});

describe('answerPasskeySignIn', () => {
  it('refuses an assertion that does not verify, naming the passkey’s owner, and an unknown challenge', async () => {
    const user = await userWithTotp();
    const credentialId = randomUUID();
    await parts.prisma.passkey.create({
      data: { id: randomUUID(), userId: user.id, credentialId, publicKey: 'AAAA', deviceType: 'singleDevice', backedUp: false, name: 'key' },
    });
    const response = { id: credentialId, rawId: credentialId, type: 'public-key', response: { clientDataJSON: 'e30', signature: 'AAAA' } };

    const { challenge } = await startPasskeySignIn(deps.passkeys, null, false);
    const step = await openPasskeySignIn(parts.prisma, challenge, response);
    expect(step.userId).toBe(user.id);
    expect(await answerPasskeySignIn(deps, step, response)).toEqual({ kind: 'wrong', userId: user.id });
    expect(await answerPasskeySignIn(deps, step, 'not a response')).toEqual({ kind: 'wrong', userId: user.id });
    const row = await parts.prisma.secondFactorChallenge.findFirstOrThrow({ where: { webauthnChallenge: step.challenge!.webauthnChallenge } });
    expect(row.failures).toBe(2);

    const unknown = await openPasskeySignIn(parts.prisma, 'no-such-challenge', response);
    expect(unknown).toEqual({ challenge: null, userId: user.id });
    expect(await answerPasskeySignIn(deps, unknown, response)).toEqual({ kind: 'invalidChallenge' });
  });

  it('fails every answer to a challenge made for an email without passkeys', async () => {
    const email = `${randomUUID()}@second-factor.test`;
    const { challenge } = await startPasskeySignIn(deps.passkeys, email, true);
    const step = await openPasskeySignIn(parts.prisma, challenge, {});
    expect(step).toEqual({ challenge: expect.objectContaining({ purpose: 'PASSKEY_SIGN_IN_NOBODY' }), userId: null });
    expect(await answerPasskeySignIn(deps, step, {})).toEqual({ kind: 'wrong', userId: null });
  });
});

describe('resetSecondFactors', () => {
  it('removes every factor, pending challenge and sign-in of the user, and answers the user; null for no such user', async () => {
    const user = await userWithTotp();
    await beginSecondFactor(deps, user.id, false);
    const tokens = new TokenService({ prisma: parts.prisma, reads: parts.directReads, ...tokenSettings(parts.config) });
    await tokens.issue(user.id, { ipAddress: null, userAgent: null });
    const other = await userWithTotp();
    expect(await resetSecondFactors(parts.prisma, user.id)).toMatchObject({ id: user.id, email: user.email, hasSecondFactor: false });
    const left = (userId: number) =>
      Promise.all([
        parts.prisma.totpFactor.count({ where: { userId } }),
        parts.prisma.recoveryCode.count({ where: { userId } }),
        parts.prisma.secondFactorChallenge.count({ where: { userId } }),
        parts.prisma.tokenFamily.count({ where: { userId } }),
      ]);
    expect(await left(user.id)).toEqual([0, 0, 0, 0]);
    expect(await left(other.id)).toEqual([1, 10, 0, 0]);
    expect(await resetSecondFactors(parts.prisma, other.id + 1_000_000)).toBeNull();
  });
});

describe('completeProvenSignIn', () => {
  function signInDeps(requireVerifiedEmail = false) {
    const started: number[] = [];
    const signIn: SignInDeps & { prisma: DomainParts['prisma'] } = {
      prisma: parts.prisma,
      config: { requireVerifiedEmail },
      client: { ipAddress: '192.0.2.9', userAgent: 'domain-test' },
      cookieSession: { start: async (userId: number) => started.push(userId) },
      tokens: new TokenService({ prisma: parts.prisma, reads: parts.directReads, ...tokenSettings(parts.config) }),
    };
    return { signIn, started };
  }
  const lastLogin = async (userId: number) =>
    (await parts.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { lastLogin: true } })).lastLogin;

  it('signs a proven user in as the challenge asked, recording the login', async () => {
    const { signIn, started } = signInDeps();
    const user = await userWithTotp();
    expect(await lastLogin(user.id)).toBeNull();
    expect(await completeProvenSignIn(signIn, user.id, 'cookie')).toEqual({ kind: 'cookie', user: expect.objectContaining({ id: user.id, email: user.email }) });
    expect(started).toEqual([user.id]);
    expect(await lastLogin(user.id)).toBeInstanceOf(Date);
    const tokens = await completeProvenSignIn(signIn, user.id, 'tokens');
    expect(tokens).toMatchObject({ kind: 'tokens', user: { id: user.id }, pair: { userId: user.id, refreshToken: expect.any(String) } });
    expect(await parts.prisma.tokenFamily.count({ where: { userId: user.id } })).toBe(1);
    expect(started).toEqual([user.id]);
  });

  it('refuses an unverified email under REQUIRE_VERIFIED_EMAIL, with no session or token', async () => {
    const { signIn, started } = signInDeps(true);
    const user = await userWithTotp();
    for (const mode of ['cookie', 'tokens'] as const) {
      expect(await completeProvenSignIn(signIn, user.id, mode)).toEqual({ kind: 'emailNotVerified', user: expect.objectContaining({ id: user.id }) });
    }
    expect(started).toEqual([]);
    expect(await parts.prisma.tokenFamily.count({ where: { userId: user.id } })).toBe(0);
    await parts.prisma.user.update({ where: { id: user.id }, data: { emailVerified: true } });
    expect(await completeProvenSignIn(signIn, user.id, 'cookie')).toMatchObject({ kind: 'cookie' });
  });

  it('refuses an account deactivated or deleted since the proof began', async () => {
    const { signIn, started } = signInDeps();
    const inactive = await userWithTotp({ isActive: false });
    expect(await completeProvenSignIn(signIn, inactive.id, 'cookie')).toEqual({ kind: 'inactive' });
    expect(await completeProvenSignIn(signIn, inactive.id + 1_000_000, 'tokens')).toEqual({ kind: 'inactive' });
    expect(started).toEqual([]);
    expect(await parts.prisma.tokenFamily.count({ where: { userId: inactive.id } })).toBe(0);
    expect(await lastLogin(inactive.id)).toBeNull();
  });
});
