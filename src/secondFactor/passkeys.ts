import { createHmac, randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  VerifiedAuthenticationResponse,
  VerifiedRegistrationResponse,
} from '@simplewebauthn/server';
import type { WebAuthnConfig } from '../config.ts';
import type { Database } from '../db.ts';
import { refreshSecondFactorFlag } from './factors.ts';
import { consumeChallenge, createChallenge, dropChallenges, failChallenge, type Challenge } from './challenges.ts';

export interface PasskeyDeps {
  prisma: Database;
  webauthn: WebAuthnConfig;
  /** Keys the decoy credential ids shown for emails without passkeys (see `startPasskeySignIn`). */
  decoyKey: Buffer;
}

export interface PasskeyRecord {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const TIMEOUT_MS = 5 * 60 * 1000;
export const MAX_PASSKEY_NAME_LENGTH = 100;
const MAX_PASSKEYS = 20;
const MAX_CREDENTIAL_ID_LENGTH = 1024;
const passkeyColumns = { id: true, name: true, createdAt: true, lastUsedAt: true } as const;

/** simplewebauthn loads at a process's first passkey step, not at start: with its ASN.1 and CBOR
 * dependencies it adds ~10 MiB to every serving process, most of which never see a passkey. */
const webauthn = () => import('@simplewebauthn/server');

/** The user handle an authenticator keeps with a passkey: the user id, which is no personal data. */
function userHandle(userId: number): Uint8Array {
  const handle = new Uint8Array(8);
  new DataView(handle.buffer).setBigUint64(0, BigInt(userId));
  return handle;
}

function transportsOf(stored: string): AuthenticatorTransport[] {
  return stored ? (stored.split(',') as AuthenticatorTransport[]) : [];
}

/** Whether a client's JSON has the shape of a WebAuthn response, before any of it is decoded. */
function looksLikeCredential(value: unknown): value is { id: string; response: object } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { id, rawId, type, response } = value as Record<string, unknown>;
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= MAX_CREDENTIAL_ID_LENGTH &&
    typeof rawId === 'string' &&
    type === 'public-key' &&
    typeof response === 'object' &&
    response !== null
  );
}

export async function startPasskeyRegistration(
  deps: PasskeyDeps,
  userId: number,
): Promise<{ challenge: string; options: PublicKeyCredentialCreationOptionsJSON }> {
  const user = await deps.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { id: true, email: true } });
  const existing = await deps.prisma.passkey.findMany({ where: { userId: user.id }, select: { credentialId: true, transports: true } });
  const options = await (await webauthn()).generateRegistrationOptions({
    rpName: deps.webauthn.rpName,
    rpID: deps.webauthn.rpId,
    userName: user.email,
    userID: userHandle(user.id) as Uint8Array<ArrayBuffer>,
    attestationType: 'none',
    timeout: TIMEOUT_MS,
    // The same authenticator twice would be one passkey under two names.
    excludeCredentials: existing.map((row) => ({ id: row.credentialId, transports: transportsOf(row.transports) })),
    // Discoverable, so that it can sign in without an email; verified, so that it can stand alone.
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  await dropChallenges(deps.prisma, user.id, 'PASSKEY_REGISTRATION');
  const { challenge } = await createChallenge(deps.prisma, {
    purpose: 'PASSKEY_REGISTRATION',
    userId: user.id,
    webauthnChallenge: options.challenge,
  });
  return { challenge, options };
}

export type RegistrationOutcome = { kind: 'added'; passkey: PasskeyRecord } | { kind: 'invalidChallenge' } | { kind: 'invalid' };

/** Checks the authenticator's answer against the challenge (origin, RP id, user verification) and stores the passkey. */
export async function finishPasskeyRegistration(
  deps: PasskeyDeps,
  challenge: Challenge | null,
  userId: number,
  response: unknown,
  name: string,
): Promise<RegistrationOutcome> {
  if (!challenge || challenge.userId !== userId || !challenge.webauthnChallenge) return { kind: 'invalidChallenge' };
  let verified: VerifiedRegistrationResponse | null = null;
  if (looksLikeCredential(response)) {
    const { verifyRegistrationResponse } = await webauthn();
    try {
      verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: challenge.webauthnChallenge,
        expectedOrigin: deps.webauthn.origins,
        expectedRPID: deps.webauthn.rpId,
        requireUserVerification: true,
      });
    } catch {
      // Malformed, wrong origin or RP id, wrong challenge: simplewebauthn says which; the client hears "invalid".
    }
  }
  const info = verified?.verified ? verified.registrationInfo : undefined;
  if (!info) {
    await failChallenge(deps.prisma, challenge);
    return { kind: 'invalid' };
  }
  if (!(await consumeChallenge(deps.prisma, challenge))) return { kind: 'invalidChallenge' };
  const count = await deps.prisma.passkey.count({ where: { userId } });
  const taken = await deps.prisma.passkey.findUnique({ where: { credentialId: info.credential.id }, select: { id: true } });
  if (count >= MAX_PASSKEYS || taken) return { kind: 'invalid' };
  const passkey = await deps.prisma.$transaction(async (tx) => {
    const created = await tx.passkey.create({
      data: {
        id: randomBytes(12).toString('base64url'),
        userId,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: BigInt(info.credential.counter),
        transports: (info.credential.transports ?? []).join(','),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        name: name || `Passkey ${count + 1}`,
      },
      select: passkeyColumns,
    });
    await refreshSecondFactorFlag(tx, userId);
    return created;
  });
  return { kind: 'added', passkey };
}

/** Removes one of the user's passkeys; false when they have none with this id. */
export async function removePasskey(prisma: Database, userId: number, id: string): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.passkey.deleteMany({ where: { id, userId } });
    if (count === 0) return false;
    await refreshSecondFactorFlag(tx, userId);
    return true;
  });
}

/**
 * Credential ids for an email that has no passkeys (or no account): stable for the email, so two
 * requests show the same list, and shaped like real ones, so the answer does not tell whether
 * the account exists.
 */
function decoyCredentials(decoyKey: Buffer, email: string) {
  const id = createHmac('sha256', decoyKey).update(`passkey-decoy:${email}`).digest('base64url');
  return [{ id, transports: ['internal', 'hybrid'] as AuthenticatorTransport[] }];
}

/** Request options for a user's own passkeys (`allow`), or for any discoverable passkey (`null`). */
export async function requestOptions(
  deps: PasskeyDeps,
  allow: { id: string; transports: AuthenticatorTransport[] }[] | null,
  userVerification: 'required' | 'preferred',
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return (await webauthn()).generateAuthenticationOptions({
    rpID: deps.webauthn.rpId,
    allowCredentials: allow ?? [],
    userVerification,
    timeout: TIMEOUT_MS,
  });
}

export async function allowedCredentials(prisma: Database, userId: number) {
  const rows = await prisma.passkey.findMany({ where: { userId }, select: { credentialId: true, transports: true } });
  return rows.map((row) => ({ id: row.credentialId, transports: transportsOf(row.transports) }));
}

/**
 * A passkey sign-in without a password. Without an email any discoverable passkey of this RP may
 * answer; with one, only that account's passkeys, and an email with none (or no account) gets
 * decoy ids that no authenticator has, in an answer of the same shape.
 */
export async function startPasskeySignIn(
  deps: PasskeyDeps,
  email: string | null,
  tokens: boolean,
): Promise<{ challenge: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  let userId: number | null = null;
  let allow: Awaited<ReturnType<typeof allowedCredentials>> | null = null;
  if (email !== null) {
    const user = await deps.prisma.user.findUnique({ where: { email }, select: { id: true, isActive: true } });
    const own = user?.isActive ? await allowedCredentials(deps.prisma, user.id) : [];
    userId = own.length > 0 ? user!.id : null;
    allow = own.length > 0 ? own : decoyCredentials(deps.decoyKey, email);
  }
  const options = await requestOptions(deps, allow, 'required');
  const { challenge } = await createChallenge(deps.prisma, {
    // An email that names no one with passkeys makes a challenge no passkey can answer.
    purpose: email !== null && userId === null ? 'PASSKEY_SIGN_IN_NOBODY' : 'PASSKEY_SIGN_IN',
    userId,
    tokens,
    webauthnChallenge: options.challenge,
  });
  return { challenge, options };
}

/** The passkey a response claims to come from, by credential id. */
export async function passkeyOwner(prisma: Database, response: unknown): Promise<number | null> {
  if (!looksLikeCredential(response)) return null;
  const row = await prisma.passkey.findUnique({ where: { credentialId: response.id }, select: { userId: true } });
  return row?.userId ?? null;
}

/**
 * Checks an assertion against the challenge and the stored credential: origin, RP id, signature,
 * user verification when asked, and a counter that must move forward (a cloned authenticator's
 * does not). The counter and backup state are stored in one conditional write, so of two
 * simultaneous uses of one signature at most one passes. Returns the user it proves, or null.
 */
export async function verifyPasskeyAssertion(
  deps: PasskeyDeps,
  challenge: Challenge,
  response: unknown,
  options: { userId: number | null; requireUserVerification: boolean },
): Promise<number | null> {
  if (!challenge.webauthnChallenge || !looksLikeCredential(response)) return null;
  const stored = await deps.prisma.passkey.findUnique({ where: { credentialId: response.id } });
  if (!stored || (options.userId !== null && stored.userId !== options.userId)) return null;
  const handle = (response.response as { userHandle?: unknown }).userHandle;
  if (typeof handle === 'string' && handle !== Buffer.from(userHandle(stored.userId)).toString('base64url')) return null;
  let info: VerifiedAuthenticationResponse['authenticationInfo'] | null = null;
  const { verifyAuthenticationResponse } = await webauthn();
  try {
    const verified = await verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge: challenge.webauthnChallenge,
      expectedOrigin: deps.webauthn.origins,
      expectedRPID: deps.webauthn.rpId,
      credential: {
        id: stored.credentialId,
        publicKey: new Uint8Array(Buffer.from(stored.publicKey, 'base64url')),
        counter: Number(stored.counter),
        transports: transportsOf(stored.transports),
      },
      requireUserVerification: options.requireUserVerification,
    });
    info = verified.verified ? verified.authenticationInfo : null;
  } catch {
    // Malformed data, a wrong origin or RP id, a bad signature, a counter that did not move.
  }
  if (!info) return null;
  const { count } = await deps.prisma.passkey.updateMany({
    where: { id: stored.id, counter: stored.counter },
    data: {
      counter: BigInt(info.newCounter),
      backedUp: info.credentialBackedUp,
      deviceType: info.credentialDeviceType,
      lastUsedAt: new Date(),
    },
  });
  return count === 1 ? stored.userId : null;
}
