// Passkeys in a real Chromium with the DevTools protocol's virtual authenticator, on a frontend page
// served from an allowed origin on localhost that calls the API with @simplewebauthn/browser.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, skipPasskeyTests, startPasskeyBrowser, type PasskeyBrowser } from './helpers/passkeyBrowser.ts';
import { TEST_PASSWORD } from './helpers/app.ts';
import { FinishPasskeyRegistration, FinishPasskeySignIn, MySecondFactors, RemovePasskey, SecondFactorMe, StartPasskeyRegistration, StartPasskeySignIn, VerifySecondFactor } from './operations/secondFactor.ts';
import { Login } from './operations/auth.ts';

const skip = skipPasskeyTests;
describe.skipIf(skip)(skip ? `passkeys in Chromium (skipped: ${chromiumMissing})` : 'passkeys in Chromium', () => {
  let harness: PasskeyBrowser;
  let app: PasskeyBrowser['app'];
  let allowed: string;
  let notAllowed: string;

  beforeAll(async () => {
    harness = await startPasskeyBrowser();
    ({ app, allowed, notAllowed } = harness);
  });

  afterAll(async () => {
    await harness?.stop();
  });

  const tab = (origin?: string) => harness.tab(origin);
  const gql = <TData>(page: Page, document: object, variables?: object, token?: string) => harness.gql<TData>(page, document, variables, token);
  const register = (page: Page, name?: string) => harness.register(page, name);
  const authenticate = (page: Page, options: any) => harness.authenticate(page, options);
  const signedInTab = (email: string) => harness.signedInTab(email);

  it('registers named passkeys and signs in with one alone (discoverable, no email), as a cookie session or tokens', async () => {
    const email = 'alone@passkey.test';
    const { page, cdp, authenticatorId, userId } = await signedInTab(email);
    const passkey = await register(page, 'Laptop');
    expect(passkey).toMatchObject({ __typename: 'Passkey', name: 'Laptop', lastUsedAt: null });
    const stored = await app.services.prisma.passkey.findFirstOrThrow({ where: { userId } });
    expect(stored).toMatchObject({ deviceType: 'singleDevice', backedUp: false, transports: 'internal' });
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect((await gql<any>(page, MySecondFactors)).data.mySecondFactors.passkeys).toEqual([
      { id: passkey.id, name: 'Laptop', createdAt: passkey.createdAt, lastUsedAt: null },
    ]);
    expect((await gql<any>(page, SecondFactorMe)).data.me.hasSecondFactor).toBe(true);
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'PASSKEY_ADDED' } })).toBe(1);

    // A fresh browser context (no cookie) with the same authenticator: sign in without an email.
    const fresh = await (await harness.context()).newPage();
    await fresh.goto(`${allowed}/`);
    await fresh.waitForFunction(() => 'SimpleWebAuthnBrowser' in window);
    const freshCdp = await fresh.context().newCDPSession(fresh);
    await freshCdp.send('WebAuthn.enable');
    const { authenticatorId: freshAuthenticator } = await freshCdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await freshCdp.send('WebAuthn.addCredential', { authenticatorId: freshAuthenticator, credential: credentials[0]! });

    expect((await gql<any>(fresh, SecondFactorMe)).data.me).toBeNull();
    const started = (await gql<any>(fresh, StartPasskeySignIn, { input: {} })).data.startPasskeySignIn;
    expect(started.options.allowCredentials ?? []).toEqual([]);
    expect(started.options).toMatchObject({ rpId: 'localhost', userVerification: 'required' });
    const response = await authenticate(fresh, started.options);
    const signedIn = await gql<any>(fresh, FinishPasskeySignIn, { input: { challenge: started.challenge, response } });
    expect(signedIn.data.finishPasskeySignIn).toMatchObject({ __typename: 'User', email });
    expect((await gql<any>(fresh, SecondFactorMe)).data.me).toMatchObject({ email });
    // Reusing the challenge (the same response, or a new one for it) is refused.
    expect((await gql<any>(fresh, FinishPasskeySignIn, { input: { challenge: started.challenge, response } })).data.finishPasskeySignIn.__typename).toBe('InvalidTokenError');
    const secondAnswer = await authenticate(fresh, started.options);
    expect((await gql<any>(fresh, FinishPasskeySignIn, { input: { challenge: started.challenge, response: secondAnswer } })).data.finishPasskeySignIn.__typename).toBe('InvalidTokenError');

    // With tokens: a TokenPair and no cookie.
    const forTokens = (await gql<any>(fresh, StartPasskeySignIn, { input: { email, tokens: true } })).data.startPasskeySignIn;
    expect(forTokens.options.allowCredentials.map((credential: { id: string }) => credential.id)).toEqual([stored.credentialId]);
    const tokenAnswer = await authenticate(fresh, forTokens.options);
    const pair = (await gql<any>(fresh, FinishPasskeySignIn, { input: { challenge: forTokens.challenge, response: tokenAnswer } })).data.finishPasskeySignIn;
    expect(pair).toMatchObject({ __typename: 'TokenPair', user: { id: String(userId) } });
    expect((await gql<any>(fresh, SecondFactorMe, {}, pair.accessToken)).data.me).toMatchObject({ email });

    const after = await app.services.prisma.passkey.findFirstOrThrow({ where: { userId } });
    expect(after.lastUsedAt).not.toBeNull();
    expect(after.counter).toBeGreaterThan(stored.counter);
  }, 60_000);

  it('serves as the second factor after a password, through verifySecondFactor', async () => {
    const email = 'second@passkey.test';
    const { page, userId } = await signedInTab(email);
    expect((await register(page)).__typename).toBe('Passkey');
    const login = (await gql<any>(page, Login, { input: { email, password: TEST_PASSWORD } })).data.login;
    expect(login).toMatchObject({ __typename: 'SecondFactorRequired', methods: ['PASSKEY'] });
    expect(login.passkeyOptions.allowCredentials).toHaveLength(1);
    const sessions = await app.services.prisma.session.count({ where: { userId } });
    const passkeyResponse = await authenticate(page, login.passkeyOptions);
    const verified = await gql<any>(page, VerifySecondFactor, { input: { challenge: login.challenge, passkeyResponse } });
    expect(verified.data.verifySecondFactor).toMatchObject({ __typename: 'User', email });
    expect(await app.services.prisma.session.count({ where: { userId } })).toBe(sessions);
    expect((await gql<any>(page, SecondFactorMe)).data.me).toMatchObject({ email });
  }, 60_000);

  it('refuses an assertion made on an origin outside WEBAUTHN_ORIGINS, one of another account, and a cloned authenticator’s', async () => {
    const email = 'refused@passkey.test';
    const { page, cdp, authenticatorId, userId } = await signedInTab(email);
    expect((await register(page)).__typename).toBe('Passkey');
    const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

    // The same passkey, used from a page on another origin (allowed by CORS, not by WEBAUTHN_ORIGINS).
    const elsewhere = await tab(notAllowed);
    await elsewhere.cdp.send('WebAuthn.addCredential', { authenticatorId: elsewhere.authenticatorId, credential: credential! });
    const started = (await gql<any>(elsewhere.page, StartPasskeySignIn, { input: {} })).data.startPasskeySignIn;
    const response = await authenticate(elsewhere.page, started.options);
    expect((await gql<any>(elsewhere.page, FinishPasskeySignIn, { input: { challenge: started.challenge, response } })).data.finishPasskeySignIn).toEqual({
      __typename: 'InvalidCredentialsError',
      message: 'Invalid credentials',
    });
    expect((await gql<any>(elsewhere.page, SecondFactorMe)).data.me).toBeNull();
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'SECOND_FACTOR_FAILED' } })).toBe(1);

    // A challenge for another email cannot be answered with this account's passkey.
    const { email: otherEmail } = await app.createUser({ email: 'other@passkey.test' });
    const forOther = (await gql<any>(page, StartPasskeySignIn, { input: { email: otherEmail } })).data.startPasskeySignIn;
    const mine = await authenticate(page, { ...forOther.options, allowCredentials: [] });
    expect((await gql<any>(page, FinishPasskeySignIn, { input: { challenge: forOther.challenge, response: mine } })).data.finishPasskeySignIn.__typename).toBe(
      'InvalidCredentialsError',
    );

    // A counter that does not move forward means a copy of the authenticator.
    await app.services.prisma.passkey.updateMany({ where: { userId }, data: { counter: 1_000_000 } });
    const again = (await gql<any>(page, StartPasskeySignIn, { input: {} })).data.startPasskeySignIn;
    const cloned = await authenticate(page, again.options);
    expect((await gql<any>(page, FinishPasskeySignIn, { input: { challenge: again.challenge, response: cloned } })).data.finishPasskeySignIn.__typename).toBe(
      'InvalidCredentialsError',
    );
  }, 60_000);

  it('answers an email without passkeys like one with none at all, and malformed responses with a union member', async () => {
    const page = (await tab()).page;
    const { email } = await app.createUser({ email: 'nopasskey@passkey.test' });
    const options = async (input: object) => (await gql<any>(page, StartPasskeySignIn, { input })).data.startPasskeySignIn.options;
    const known = await options({ email });
    const unknown = await options({ email: 'nobody@passkey.test' });
    const shape = (value: any) => ({
      keys: Object.keys(value).sort(),
      allow: value.allowCredentials.map((credential: any) => ({ type: credential.type, idLength: credential.id.length, transports: credential.transports })),
    });
    expect(shape(unknown)).toEqual(shape(known));
    expect(unknown.allowCredentials).toEqual((await options({ email: 'NOBODY@passkey.test' })).allowCredentials);

    const started = (await gql<any>(page, StartPasskeySignIn, { input: {} })).data.startPasskeySignIn;
    for (const response of ['x', 1, [], {}, { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 7, signature: null } }]) {
      const result = await gql<any>(page, FinishPasskeySignIn, { input: { challenge: started.challenge, response } });
      expect(result.data.finishPasskeySignIn.__typename).toMatch(/^(InvalidCredentialsError|InvalidTokenError)$/);
    }
    const signedIn = await signedInTab('malformed@passkey.test');
    const registration = (await gql<any>(signedIn.page, StartPasskeyRegistration)).data.startPasskeyRegistration;
    for (const response of ['x', { id: 'a', rawId: 'a', type: 'public-key', response: {} }]) {
      const result = await gql<any>(signedIn.page, FinishPasskeyRegistration, { input: { challenge: registration.challenge, response } });
      expect(result.data.finishPasskeyRegistration.__typename).toBe('InvalidSecondFactorError');
    }
  }, 60_000);

  it('removes a passkey only with the current password', async () => {
    const { page, userId } = await signedInTab('remove@passkey.test');
    const passkey = await register(page, 'Phone');
    const wrong = await gql<any>(page, RemovePasskey, { id: passkey.id, currentPassword: 'Wrong-Password-1' });
    expect(wrong.data.removePasskey).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    const removed = await gql<any>(page, RemovePasskey, { id: passkey.id, currentPassword: TEST_PASSWORD });
    expect(removed.data.removePasskey).toEqual({ __typename: 'SecondFactors', totpEnabled: false, recoveryCodesLeft: 0, passkeys: [] });
    expect((await gql<any>(page, RemovePasskey, { id: passkey.id, currentPassword: TEST_PASSWORD })).data.removePasskey.__typename).toBe('NotFoundError');
    expect((await gql<any>(page, SecondFactorMe)).data.me.hasSecondFactor).toBe(false);
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'PASSKEY_REMOVED' } })).toBe(1);
  }, 60_000);
});
