// The passkey functions of examples/apollo.ts and examples/urql.ts, bundled for the browser and
// called from a page in a real Chromium as a frontend calls them, with the DevTools protocol's
// virtual authenticator answering @simplewebauthn/browser's startAuthentication.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/app.ts';
import { chromiumMissing, skipPasskeyTests, startPasskeyBrowser, type PasskeyBrowser } from './helpers/passkeyBrowser.ts';
import { SecondFactorMe } from './operations/secondFactor.ts';

const skip = skipPasskeyTests;
describe.skipIf(skip)(skip ? `the example clients' passkeys in Chromium (skipped: ${chromiumMissing})` : "the example clients' passkeys in Chromium", () => {
  let harness: PasskeyBrowser;

  beforeAll(async () => {
    harness = await startPasskeyBrowser({ examples: true });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  /**
   * A user with a passkey, and a new tab (no cookie) whose authenticator holds that passkey: the
   * same person on a browser that is not signed in.
   */
  async function passkeyOnFreshTab(email: string): Promise<{ page: Page; userId: number }> {
    const owner = await harness.signedInTab(email);
    expect((await harness.register(owner.page)).__typename).toBe('Passkey');
    const [credential] = (await owner.cdp.send('WebAuthn.getCredentials', { authenticatorId: owner.authenticatorId })).credentials;
    const fresh = await harness.tab();
    await fresh.cdp.send('WebAuthn.addCredential', { authenticatorId: fresh.authenticatorId, credential: credential! });
    expect((await harness.gql<any>(fresh.page, SecondFactorMe)).data.me).toBeNull();
    return { page: fresh.page, userId: owner.userId };
  }

  describe.each(['apollo', 'urql'] as const)('examples/%s.ts', (library) => {
    it('signInWithPasskey signs in without a password (no email: a discoverable passkey), and the cookie session holds', async () => {
      const email = `alone-${library}@examples.test`;
      const { page, userId } = await passkeyOnFreshTab(email);
      const seen = await page.evaluate(
        async ([name, api]) => {
          const example = (window as any).examples[name];
          const client = example.createCookieClient(api);
          const before = await example.me(client);
          const signedIn = await example.signInWithPasskey(client);
          const after = await example.me(client);
          // A new client has no cache: only the browser's cookie says who is signed in.
          const again = await example.me(example.createCookieClient(api));
          return { before, signedIn, after, again };
        },
        [library, harness.api] as const,
      );
      expect(seen.before).toBeNull();
      expect(seen.signedIn).toMatchObject({ __typename: 'User', id: String(userId), email });
      expect(seen.after).toMatchObject({ __typename: 'User', id: String(userId), email });
      expect(seen.again).toMatchObject({ __typename: 'User', id: String(userId), email });
      expect((await harness.gql<any>(page, SecondFactorMe)).data.me).toMatchObject({ email });
      const passkey = await harness.app.services.prisma.passkey.findFirstOrThrow({ where: { userId } });
      expect(passkey.lastUsedAt).not.toBeNull();
    }, 60_000);

    it('passkeySecondFactor completes a password login that answers SecondFactorRequired', async () => {
      const email = `second-${library}@examples.test`;
      const { page, userId } = await passkeyOnFreshTab(email);
      const seen = await page.evaluate(
        async ([name, api, emailAddress, password]) => {
          const example = (window as any).examples[name];
          const client = example.createCookieClient(api);
          const required = await example.login(client, emailAddress, password);
          if (required.__typename !== 'SecondFactorRequired') return { required };
          const between = await example.me(client);
          const verified = await example.passkeySecondFactor(client, required);
          const after = await example.me(client);
          return { required, between, verified, after };
        },
        [library, harness.api, email, TEST_PASSWORD] as const,
      );
      expect(seen.required).toMatchObject({ __typename: 'SecondFactorRequired', methods: ['PASSKEY'] });
      expect(seen.required.passkeyOptions.allowCredentials).toHaveLength(1);
      expect(seen.between).toBeNull();
      expect(seen.verified).toMatchObject({ __typename: 'User', id: String(userId), email });
      expect(seen.after).toMatchObject({ __typename: 'User', id: String(userId), email });
      expect((await harness.gql<any>(page, SecondFactorMe)).data.me).toMatchObject({ email });
    }, 60_000);
  });
});
