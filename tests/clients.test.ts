// The example clients in examples/ (real @apollo/client and @urql/core) against the running server.
import fs from 'node:fs';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { Client, fetchExchange } from '@urql/core';
import { buildSchema, type GraphQLAbstractType } from 'graphql';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as apollo from '../examples/apollo.ts';
import { memoryTokenStore, storageTokenStore, type Tokens, type TokenStore } from '../examples/tokens.ts';
import * as urql from '../examples/urql.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { tokenClient } from './helpers/actors.ts';
import { browserishFetch } from './helpers/browserishFetch.ts';
import { LogoutEverywhere, Me } from './operations/auth.ts';
import { ConfirmTotpSetup, StartTotpSetup } from './operations/secondFactor.ts';
import { linkToken, startMailbox, type Mailbox } from './helpers/mail.ts';
import { MySessions } from './operations/account.ts';

type User = { __typename?: 'User'; id: string; email: string } | null;
type Answer = { __typename: string; message?: string; email?: string };
type Sessions = { sessions?: { id: string; current: boolean }[]; code?: unknown };

/** The same scenarios for both libraries: what a frontend does with each example module. */
interface Library {
  cookieClient(url: string, fetch: typeof globalThis.fetch): {
    login(email: string, password: string): Promise<Answer & { email?: string }>;
    me(): Promise<User>;
    logout(): Promise<string>;
    verifyEmail(token: string): Promise<Answer & { emailVerified?: boolean }>;
    sendVerificationEmail(): Promise<boolean>;
    changeEmail(newEmail: string, currentPassword: string): Promise<Answer & { newEmail?: string }>;
  };
  tokenClient(url: string, fetch: typeof globalThis.fetch, store: TokenStore): {
    obtainTokens(email: string, password: string): Promise<Answer & { user?: { email: string } }>;
    me(): Promise<User>;
    logout(): Promise<string>;
    mySessions(): Promise<Sessions>;
  };
}

const libraries: Record<string, Library> = {
  'Apollo Client': {
    cookieClient(url, fetch) {
      const client = apollo.createCookieClient(url, { fetch });
      return {
        login: (email, password) => apollo.login(client, email, password),
        me: () => apollo.me(client),
        logout: () => apollo.logout(client),
        verifyEmail: (token) => apollo.verifyEmail(client, token),
        sendVerificationEmail: () => apollo.sendVerificationEmail(client),
        changeEmail: (newEmail, currentPassword) => apollo.changeEmail(client, newEmail, currentPassword),
      };
    },
    tokenClient(url, fetch, store) {
      const client = apollo.createTokenClient(url, { fetch, store });
      return {
        obtainTokens: (email, password) => apollo.obtainTokens(client, store, email, password),
        me: () => apollo.me(client),
        logout: () => apollo.logout(client, store),
        async mySessions() {
          try {
            const { data } = await client.query({ query: MySessions, fetchPolicy: 'network-only', errorPolicy: 'none' });
            return { sessions: data.mySessions };
          } catch (error) {
            if (CombinedGraphQLErrors.is(error)) return { code: error.errors[0]?.extensions?.code };
            throw error;
          }
        },
      };
    },
  },
  urql: {
    cookieClient(url, fetch) {
      const client = urql.createCookieClient(url, { fetch });
      return {
        login: (email, password) => urql.login(client, email, password),
        me: () => urql.me(client),
        logout: () => urql.logout(client),
        verifyEmail: (token) => urql.verifyEmail(client, token),
        sendVerificationEmail: () => urql.sendVerificationEmail(client),
        changeEmail: (newEmail, currentPassword) => urql.changeEmail(client, newEmail, currentPassword),
      };
    },
    tokenClient(url, fetch, store) {
      const client = urql.createTokenClient(url, { fetch, store });
      return {
        obtainTokens: (email, password) => urql.obtainTokens(client, store, email, password),
        me: () => urql.me(client),
        logout: () => urql.logout(client, store),
        async mySessions() {
          const result = await client.query(MySessions, {}, { requestPolicy: 'network-only' });
          if (result.error?.graphQLErrors.length) return { code: result.error.graphQLErrors[0]?.extensions?.code };
          if (result.error) throw result.error;
          return { sessions: result.data!.mySessions };
        },
      };
    },
  },
};

/** Waits, polling, until `condition` holds; fails after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let app: TestApp;
/** Access tokens live one second here. */
let shortLived: TestApp;
/** Mails go to `mailbox` here. */
let mailing: TestApp;
let mailbox: Mailbox;
const VERIFY_URL = 'https://app.example/verify-email?token={token}';
beforeAll(async () => {
  mailbox = await startMailbox();
  [app, shortLived, mailing] = await Promise.all([
    startTestApp(),
    startTestApp({ ACCESS_TOKEN_TTL_SECONDS: '1' }),
    startTestApp({ SMTP_URL: `smtp://127.0.0.1:${mailbox.port}`, EMAIL_VERIFICATION_URL: VERIFY_URL }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), shortLived?.stop(), mailing?.stop()]);
  await mailbox?.close();
});

let users = 0;
async function newUser(on: TestApp, name: string) {
  return on.createUser({ email: `${name.toLowerCase().replace(/\W+/g, '-')}-${++users}@example.com` });
}

/**
 * Signs in with tokens and waits until the server no longer accepts the access token. Expiry is
 * a whole second, so a refresh right after it gets a token that lives most of the next second.
 */
async function expiredSignIn(library: Library, name: string) {
  const { email } = await newUser(shortLived, name);
  const store = memoryTokenStore();
  const http = browserishFetch({ jar: false });
  const client = library.tokenClient(`${shortLived.url}/graphql`, http.fetch, store);
  expect((await client.obtainTokens(email, TEST_PASSWORD)).__typename).toBe('TokenPair');
  const first = store.get()!;
  await waitUntil(() => Date.now() > Date.parse(first.accessTokenExpiresAt) + 10);
  expect((await tokenClient(shortLived, first.accessToken).request(Me)).data).toEqual({ me: null });
  http.sent.length = 0;
  return { email, store, http, client, first };
}

describe.each(Object.entries(libraries))('%s', (name, library) => {
  describe('cookie sessions', () => {
    it('login → me → logout → me is null, with the cookie kept as a browser would', async () => {
      const { email } = await newUser(app, `cookie ${name}`);
      const http = browserishFetch();
      const client = library.cookieClient(`${app.url}/graphql`, http.fetch);

      expect(await client.me()).toBeNull();
      expect(await client.login(email, 'Not-The-Password-1')).toEqual({
        __typename: 'InvalidCredentialsError',
        message: 'Invalid credentials',
      });
      expect(http.cookies.has('sid')).toBe(false);

      const user = await client.login(email, TEST_PASSWORD);
      expect(user).toMatchObject({ __typename: 'User', email });
      expect(http.cookies.has('sid')).toBe(true);
      expect(await client.me()).toMatchObject({ email });

      expect(await client.logout()).toBe('Successfully logged out');
      expect(http.cookies.has('sid')).toBe(false);
      expect(await client.me()).toBeNull();
      expect(http.sent.every((request) => request.status === 200)).toBe(true);
    });
  });

  describe('verified email', () => {
    it('the verification page’s call, a resend, and the change-email flow', async () => {
      const { email } = await newUser(mailing, `verify ${name}`);
      const http = browserishFetch();
      const client = library.cookieClient(`${mailing.url}/graphql`, http.fetch);
      const tokenIn = async (to: string) => linkToken((await mailbox.next(to)).body, VERIFY_URL.replace('{token}', ''));

      expect((await client.login(email, TEST_PASSWORD)).__typename).toBe('User');
      expect(await client.sendVerificationEmail()).toBe(true);
      const token = await tokenIn(email);
      expect(await client.verifyEmail(token)).toMatchObject({ __typename: 'User', email, emailVerified: true });
      expect(await client.verifyEmail(token)).toEqual({ __typename: 'InvalidTokenError', message: 'The token is invalid or has expired.' });

      expect(await client.changeEmail('not an email', TEST_PASSWORD)).toMatchObject({ __typename: 'ValidationError' });
      expect(await client.changeEmail(`moved-${email}`, 'Not-The-Password-1')).toMatchObject({ __typename: 'InvalidCredentialsError' });
      expect(await client.changeEmail(`moved-${email}`, TEST_PASSWORD)).toEqual({ __typename: 'EmailChangeRequested', newEmail: `moved-${email}` });
      await mailbox.next(email);
      expect(await client.verifyEmail(await tokenIn(`moved-${email}`))).toMatchObject({ __typename: 'User', email: `moved-${email}` });
      expect(await client.me()).toMatchObject({ email: `moved-${email}` });
    });
  });

  describe('tokens', () => {
    it('obtainTokens keeps the pair in the store and sends the access token as a bearer token', async () => {
      const { email } = await newUser(app, `tokens ${name}`);
      const store = memoryTokenStore();
      const http = browserishFetch({ jar: false });
      const client = library.tokenClient(`${app.url}/graphql`, http.fetch, store);

      expect(await client.me()).toBeNull();
      expect(await client.obtainTokens(email, 'Not-The-Password-1')).toMatchObject({ __typename: 'InvalidCredentialsError' });
      expect(store.get()).toBeNull();

      const pair = await client.obtainTokens(email, TEST_PASSWORD);
      expect(pair).toMatchObject({ __typename: 'TokenPair', user: { email } });
      expect(store.get()).toEqual({
        accessToken: expect.any(String),
        accessTokenExpiresAt: expect.any(String),
        refreshToken: expect.any(String),
      });
      expect(await client.me()).toMatchObject({ email });
      expect(http.named('CurrentUser').at(-1)?.authorization).toBe(`Bearer ${store.get()!.accessToken}`);
      expect(http.named('RenewTokens')).toEqual([]);

      expect(await client.logout()).toBe('Successfully logged out');
      expect(store.get()).toBeNull();
      expect(await client.me()).toBeNull();
      expect(http.named('CurrentUser').at(-1)?.authorization).toBeNull();
    });

    it('a store on Storage (e.g. localStorage) keeps the sign-in for the next client, as across a reload', async () => {
      const { email } = await newUser(app, `storage ${name}`);
      const storage = new Map<string, string>();
      const fakeLocalStorage = {
        getItem: (key: string) => storage.get(key) ?? null,
        setItem: (key: string, value: string) => void storage.set(key, value),
        removeItem: (key: string) => void storage.delete(key),
      };
      const before = library.tokenClient(`${app.url}/graphql`, fetch, storageTokenStore(fakeLocalStorage));
      await before.obtainTokens(email, TEST_PASSWORD);
      expect(JSON.parse(storage.get('auth-tokens')!)).toMatchObject({ refreshToken: expect.any(String) });

      const after = library.tokenClient(`${app.url}/graphql`, fetch, storageTokenStore(fakeLocalStorage));
      expect(await after.me()).toMatchObject({ email });
      await after.logout();
      expect(storage.has('auth-tokens')).toBe(false);
    });

    it('refreshes an expired access token transparently on the next me', async () => {
      const { email, store, http, client, first } = await expiredSignIn(library, `expired ${name}`);

      expect(await client.me()).toMatchObject({ email });
      const renewed = store.get()!;
      expect(renewed.refreshToken).not.toBe(first.refreshToken);
      expect(renewed.accessToken).not.toBe(first.accessToken);
      expect(http.named('RenewTokens').map((request) => request.typename)).toEqual(['TokenPair']);
      expect(http.named('CurrentUser').map((request) => request.authorization)).toEqual([`Bearer ${renewed.accessToken}`]);
    });

    it('refreshes on UNAUTHENTICATED and retries once, when the server rejects a token the client thought valid', async () => {
      const { store, http, client, first } = await expiredSignIn(library, `unauthenticated ${name}`);
      // The client's clock says the token is good for another hour; the server disagrees.
      const skewed: Tokens = { ...first, accessTokenExpiresAt: new Date(Date.now() + 3600_000).toISOString() };
      store.set(skewed);

      const { sessions } = await client.mySessions();
      expect(sessions?.filter((session) => session.current)).toHaveLength(1);
      expect(store.get()!.refreshToken).not.toBe(first.refreshToken);
      expect(http.named('MySessions').map((request) => request.errorCodes)).toEqual([['UNAUTHENTICATED'], []]);
      expect(http.named('RenewTokens').map((request) => request.typename)).toEqual(['TokenPair']);
    });

    it('runs one refresh for requests that need it at the same time, so the sign-in survives', async () => {
      const { email, store, http, client } = await expiredSignIn(library, `concurrent ${name}`);

      const [meResult, sessions] = await Promise.all([client.me(), client.mySessions(), client.me()]);
      expect(meResult).toMatchObject({ email });
      expect(sessions.sessions).toHaveLength(1);
      expect(http.named('RenewTokens').map((request) => request.typename)).toEqual(['TokenPair']);
      // A second refresh with the same token would have been taken for theft and ended the sign-in.
      store.set({ ...store.get()!, accessTokenExpiresAt: new Date(0).toISOString() });
      expect(await client.me()).toMatchObject({ email });
    });

    it('a sign-in revoked elsewhere ends signed out after one refresh attempt, not in a loop', async () => {
      const { email } = await newUser(app, `revoked ${name}`);
      const store = memoryTokenStore();
      const http = browserishFetch({ jar: false });
      const client = library.tokenClient(`${app.url}/graphql`, http.fetch, store);
      await client.obtainTokens(email, TEST_PASSWORD);
      expect((await client.mySessions()).sessions).toHaveLength(1);

      const elsewhere = app.client();
      await elsewhere.login(email, TEST_PASSWORD);
      expect((await elsewhere.request(LogoutEverywhere)).data?.logoutEverywhere.message).toBeTruthy();

      http.sent.length = 0;
      expect(await client.mySessions()).toEqual({ code: 'UNAUTHENTICATED' });
      expect(store.get()).toBeNull();
      expect(http.named('RenewTokens').map((request) => request.typename)).toEqual(['InvalidTokenError']);
      expect(http.named('MySessions').length).toBeLessThanOrEqual(2);

      expect(await client.me()).toBeNull();
      expect(http.named('CurrentUser').map((request) => request.authorization)).toEqual([null]);
      expect(http.named('RenewTokens')).toHaveLength(1);
    });
  });
});

describe('transport', () => {
  it('urql sends queries as GET, so its clients add a CSRF header; Apollo POSTs JSON', async () => {
    const { email } = await newUser(app, 'transport');
    for (const [name, library] of Object.entries(libraries)) {
      const http = browserishFetch();
      const client = library.cookieClient(`${app.url}/graphql`, http.fetch);
      await client.login(email, TEST_PASSWORD);
      await client.me();
      const [login, me] = [http.named('SignIn')[0]!, http.named('CurrentUser')[0]!];
      expect(login.method, name).toBe('POST');
      expect(login.contentType, name).toBe('application/json');
      expect(me.method, name).toBe(name === 'urql' ? 'GET' : 'POST');
      if (name === 'urql') expect(me.csrfHeader).toBe('1');
    }
  });

  it('without the CSRF header, the API refuses urql’s GET', async () => {
    const bare = new Client({ url: `${app.url}/graphql`, exchanges: [fetchExchange] });
    const result = await bare.query(Me, {});
    expect(result.data).toBeUndefined();
    expect(result.error?.response?.status).toBe(403);
  });
});

describe('the Apollo example', () => {
  it('gives its cache the members of each union and interface it names, as in schema.graphql', () => {
    const schema = buildSchema(fs.readFileSync('schema.graphql', 'utf8'));
    const members = (name: string) =>
      schema
        .getPossibleTypes(schema.getType(name) as GraphQLAbstractType)
        .map((type) => type.name)
        .sort();
    for (const [name, types] of Object.entries(apollo.possibleTypes)) expect([...types].sort(), name).toEqual(members(name));
    expect(Object.keys(apollo.possibleTypes)).toEqual(expect.arrayContaining(['Error', 'LoginResult', 'ObtainTokensResult', 'RefreshTokensResult']));
  });
});

describe('the two-step sign-in with the example clients', () => {
  /** A user with an authenticator app on, and a code generator for its secret. */
  async function userWithTotp(email: string) {
    const owner = await app.signedIn({ email });
    const setup = (await owner.request(StartTotpSetup)).data!.startTotpSetup;
    const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(setup.secret) });
    // Confirmed with the previous step's code, so the current one is left for the sign-in.
    await owner.request(ConfirmTotpSetup, { code: totp.generate({ timestamp: Date.now() - 30_000 }) });
    return totp;
  }

  const flows = {
    'Apollo Client': {
      async cookie(email: string, code: () => string) {
        const { fetch } = browserishFetch();
        const client = apollo.createCookieClient(`${app.url}/graphql`, { fetch });
        const first = await apollo.login(client, email, TEST_PASSWORD);
        if (first.__typename !== 'SecondFactorRequired') return { first: first.__typename };
        const wrong = await apollo.verifySecondFactor(client, first.challenge, { totpCode: '000000' });
        const second = await apollo.verifySecondFactor(client, first.challenge, { totpCode: code() });
        return { first: first.__typename, methods: first.methods, wrong: wrong.__typename, second: second.__typename, me: (await apollo.me(client))?.email };
      },
      async tokens(email: string, code: () => string) {
        const store = memoryTokenStore();
        const client = apollo.createTokenClient(`${app.url}/graphql`, { fetch: browserishFetch({ jar: false }).fetch, store });
        const first = await apollo.obtainTokens(client, store, email, TEST_PASSWORD);
        if (first.__typename !== 'SecondFactorRequired') return { first: first.__typename };
        const stored = store.get();
        const second = await apollo.verifySecondFactor(client, first.challenge, { totpCode: code() }, store);
        return { first: first.__typename, stored, second: second.__typename, me: (await apollo.me(client))?.email };
      },
    },
    urql: {
      async cookie(email: string, code: () => string) {
        const { fetch } = browserishFetch();
        const client = urql.createCookieClient(`${app.url}/graphql`, { fetch });
        const first = await urql.login(client, email, TEST_PASSWORD);
        if (first.__typename !== 'SecondFactorRequired') return { first: first.__typename };
        const wrong = await urql.verifySecondFactor(client, first.challenge, { totpCode: '000000' });
        const second = await urql.verifySecondFactor(client, first.challenge, { totpCode: code() });
        return { first: first.__typename, methods: first.methods, wrong: wrong.__typename, second: second.__typename, me: (await urql.me(client))?.email };
      },
      async tokens(email: string, code: () => string) {
        const store = memoryTokenStore();
        const client = urql.createTokenClient(`${app.url}/graphql`, { fetch: browserishFetch({ jar: false }).fetch, store });
        const first = await urql.obtainTokens(client, store, email, TEST_PASSWORD);
        if (first.__typename !== 'SecondFactorRequired') return { first: first.__typename };
        const stored = store.get();
        const second = await urql.verifySecondFactor(client, first.challenge, { totpCode: code() }, store);
        return { first: first.__typename, stored, second: second.__typename, me: (await urql.me(client))?.email };
      },
    },
  };

  for (const [name, flow] of Object.entries(flows)) {
    it(`${name}: login answers SecondFactorRequired, a wrong code InvalidSecondFactorError, the right one a cookie session`, async () => {
      const email = `two-step-cookie-${name.length}@clients.test`;
      const totp = await userWithTotp(email);
      expect(await flow.cookie(email, () => totp.generate())).toEqual({
        first: 'SecondFactorRequired',
        methods: ['TOTP', 'RECOVERY_CODE'],
        wrong: 'InvalidSecondFactorError',
        second: 'User',
        me: email,
      });
    });

    it(`${name}: obtainTokens answers SecondFactorRequired, and verifySecondFactor a TokenPair kept in the store`, async () => {
      const email = `two-step-tokens-${name.length}@clients.test`;
      const totp = await userWithTotp(email);
      expect(await flow.tokens(email, () => totp.generate())).toEqual({ first: 'SecondFactorRequired', stored: null, second: 'TokenPair', me: email });
    });
  }
});
