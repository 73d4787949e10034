// urql against this API (npm i @urql/core @urql/exchange-auth graphql): cookie sessions, and
// bearer tokens refreshed by authExchange. Union results are read by `__typename`.
import { cacheExchange, Client, fetchExchange, type OperationResult } from '@urql/core';
import { startAuthentication } from '@simplewebauthn/browser';
import { authExchange } from '@urql/exchange-auth';
import {
  ConfirmEmail,
  CurrentUser,
  PasskeyFinish,
  PasskeyStart,
  RenewTokens,
  RequestEmailChange,
  ResendVerificationEmail,
  SecondStep,
  SignIn,
  SignInWithTokens,
  SignOut,
} from './operations';
import { isExpired, isUnauthenticated, memoryTokenStore, toTokens, type SecondFactorAnswer, type TokenStore } from './tokens';

export interface ClientOptions {
  /** Defaults to the global `fetch` (outside a browser, pass one that keeps cookies). */
  fetch?: typeof fetch;
}

// urql sends queries as GET, and the API refuses a GET (or a non-JSON POST) without one of its
// CSRF headers: any of them makes a browser ask first (a CORS preflight), as a form cannot.
const CSRF_HEADER = { 'graphql-require-preflight': '1' };

/** Cookie sessions: `credentials: 'include'` sends the session cookie (CORS_ORIGINS for other origins). */
export function createCookieClient(url: string, { fetch }: ClientOptions = {}): Client {
  return new Client({
    url,
    fetch,
    fetchOptions: { credentials: 'include', headers: CSRF_HEADER },
    exchanges: [cacheExchange, fetchExchange],
  });
}

/** Bearer tokens, kept in `store`, refreshed before they expire and on UNAUTHENTICATED. */
export function createTokenClient(
  url: string,
  { store = memoryTokenStore(), fetch }: ClientOptions & { store?: TokenStore } = {},
): Client {
  return new Client({
    url,
    fetch,
    fetchOptions: { headers: CSRF_HEADER }, // for GETs sent before signing in
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const tokens = store.get();
          if (!tokens || operation.context.skipAuth) return operation;
          return utils.appendHeaders(operation, { Authorization: `Bearer ${tokens.accessToken}` });
        },
        // Refresh expired tokens first: the API takes them for anonymous (`me` answers null).
        willAuthError(operation) {
          const tokens = store.get();
          return !operation.context.skipAuth && tokens !== null && isExpired(tokens);
        },
        didAuthError: (error) => store.get() !== null && isUnauthenticated(error.graphQLErrors),
        // authExchange runs one refresh at a time, holds other operations meanwhile and retries
        // the failed one once.
        async refreshAuth() {
          const refreshToken = store.get()?.refreshToken;
          if (!refreshToken) return;
          const result = await utils.mutate(RenewTokens, { refreshToken }, { skipAuth: true });
          const renewed = result.data?.refreshTokens;
          if (renewed?.__typename === 'TokenPair') store.set(toTokens(renewed));
          // InvalidTokenError: the sign-in has ended (logout, revoked, password changed): signed out.
          else if (renewed) store.set(null);
        },
      })),
      fetchExchange,
    ],
  });
}

function dataOf<Data>(result: OperationResult<Data>): Data {
  if (result.error || !result.data) throw result.error ?? new Error('No data');
  return result.data;
}

/**
 * Starts a cookie session. Answers `User`, `InvalidCredentialsError`, or `SecondFactorRequired`
 * (check `__typename`): then ask for a code and call `verifySecondFactor`, or `passkeySecondFactor`.
 */
export async function login(client: Client, email: string, password: string) {
  return dataOf(await client.mutation(SignIn, { input: { email, password } })).login;
}

/** Signs in with tokens, kept in `store`. Answers `TokenPair`, `InvalidCredentialsError` or `SecondFactorRequired`. */
export async function obtainTokens(client: Client, store: TokenStore, email: string, password: string) {
  const result = dataOf(await client.mutation(SignInWithTokens, { input: { email, password } }, { skipAuth: true })).obtainTokens;
  if (result.__typename === 'TokenPair') store.set(toTokens(result));
  return result;
}

/**
 * The second step, with the `challenge` of SecondFactorRequired: a `User` (cookie session) or a
 * `TokenPair` (kept in `store`), as the first step began; `InvalidSecondFactorError` for a wrong
 * code (try again), `InvalidTokenError` when the challenge is over (start again with the password).
 */
export async function verifySecondFactor(client: Client, challenge: string, answer: SecondFactorAnswer, store?: TokenStore) {
  const result = dataOf(await client.mutation(SecondStep, { input: { challenge, ...answer } }, { skipAuth: true })).verifySecondFactor;
  if (result.__typename === 'TokenPair') store?.set(toTokens(result));
  return result;
}

/** The second step with a passkey: the browser asks the authenticator for the challenge's `passkeyOptions`. */
export async function passkeySecondFactor(client: Client, required: { challenge: string; passkeyOptions?: unknown }, store?: TokenStore) {
  const passkeyResponse = await startAuthentication({ optionsJSON: required.passkeyOptions as never });
  return verifySecondFactor(client, required.challenge, { passkeyResponse }, store);
}

/**
 * Signs in with a passkey alone. Without `email` the browser offers every passkey it has for this
 * site; with one, only that account's. Pass `store` for tokens, leave it out for a cookie session.
 * Answers `User`, `TokenPair`, `InvalidCredentialsError` or `InvalidTokenError`.
 */
export async function signInWithPasskey(client: Client, { email, store }: { email?: string; store?: TokenStore } = {}) {
  const input = { email, tokens: store !== undefined };
  const { challenge, options } = dataOf(await client.mutation(PasskeyStart, { input }, { skipAuth: true })).startPasskeySignIn;
  const response = await startAuthentication({ optionsJSON: options as never });
  const result = dataOf(await client.mutation(PasskeyFinish, { input: { challenge, response } }, { skipAuth: true })).finishPasskeySignIn;
  if (result.__typename === 'TokenPair') store?.set(toTokens(result));
  return result;
}

/** The signed-in user, or null: asks the server every time. */
export async function me(client: Client) {
  return dataOf(await client.query(CurrentUser, {}, { requestPolicy: 'network-only' })).me;
}

/** Ends the cookie session, or this token sign-in (then pass its store, which is emptied). */
export async function logout(client: Client, store?: TokenStore) {
  try {
    return dataOf(await client.mutation(SignOut, {})).logout.message;
  } finally {
    store?.set(null);
  }
}

/**
 * The verification page's call, with the token from its URL (EMAIL_VERIFICATION_URL): the links of
 * both verification and email-change mails lead there. Answers `User` (verified; after a change,
 * with the new email) or `InvalidTokenError` (unknown, used, expired or superseded: offer
 * `sendVerificationEmail`). Needs no sign-in.
 */
export async function verifyEmail(client: Client, token: string) {
  return dataOf(await client.mutation(ConfirmEmail, { token })).verifyEmail;
}

/** Mails a new verification link to the signed-in user. Always true (RATE_LIMITED when asked too often). */
export async function sendVerificationEmail(client: Client) {
  return dataOf(await client.mutation(ResendVerificationEmail, {})).sendVerificationEmail;
}

/**
 * Asks to move the signed-in user to `newEmail`. Answers `EmailChangeRequested` (a link went to the
 * new address: show "check your inbox"), `InvalidCredentialsError` (wrong password) or a
 * `ValidationError` on `newEmail`. The email changes when the link is opened (`verifyEmail`).
 */
export async function changeEmail(client: Client, newEmail: string, currentPassword: string) {
  return dataOf(await client.mutation(RequestEmailChange, { input: { newEmail, currentPassword } })).changeEmail;
}
