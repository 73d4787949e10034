// Apollo Client 4 against this API (npm i @apollo/client graphql rxjs): cookie sessions, and
// bearer tokens refreshed on UNAUTHENTICATED. Union results are read by `__typename`.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { startAuthentication } from '@simplewebauthn/browser';
import { from, of, switchMap } from 'rxjs';
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

/**
 * Apollo's cache must know the members of the unions and interfaces these operations select
 * from, or it cannot match `... on Error { message }` (and drops `message`). For a whole schema,
 * @graphql-codegen/fragment-matcher generates this map. (The tests check it against the schema.)
 */
export const possibleTypes: Record<string, string[]> = {
  Error: ['EmailNotVerifiedError', 'InvalidCredentialsError', 'InvalidSecondFactorError', 'InvalidTokenError', 'NotFoundError', 'ValidationError'],
  LoginResult: ['EmailNotVerifiedError', 'InvalidCredentialsError', 'SecondFactorRequired', 'User'],
  ObtainTokensResult: ['EmailNotVerifiedError', 'InvalidCredentialsError', 'SecondFactorRequired', 'TokenPair'],
  RefreshTokensResult: ['InvalidTokenError', 'TokenPair'],
  VerifySecondFactorResult: ['EmailNotVerifiedError', 'InvalidSecondFactorError', 'InvalidTokenError', 'TokenPair', 'User'],
  PasskeySignInResult: ['EmailNotVerifiedError', 'InvalidCredentialsError', 'InvalidTokenError', 'TokenPair', 'User'],
  VerifyEmailResult: ['InvalidTokenError', 'User'],
  ChangeEmailResult: ['EmailChangeRequested', 'InvalidCredentialsError', 'ValidationError'],
};

export interface ClientOptions {
  /** Defaults to the global `fetch` (outside a browser, pass one that keeps cookies). */
  fetch?: typeof fetch;
  /**
   * Trusted documents: send each operation as its hash only, for an API started with
   * TRUSTED_DOCUMENTS set to the manifest your codegen writes (persisted-documents.json).
   */
  persisted?: boolean;
}

/**
 * The hash codegen's client preset gave the document (`persistedDocuments: true`). Never the text:
 * a server that runs trusted documents only refuses it, so there is nothing to retry with.
 */
function persistedLink(): ApolloLink {
  return new PersistedQueryLink({
    generateHash: (document) => (document as { __meta__?: { hash?: string } }).__meta__!.hash!,
    retry: () => false,
  });
}

function httpLink(url: string, { fetch, persisted }: ClientOptions, credentials?: RequestCredentials): ApolloLink {
  const http = new HttpLink({ uri: url, credentials, fetch });
  return persisted ? ApolloLink.from([persistedLink(), http]) : http;
}

/**
 * Cookie sessions: `credentials: 'include'` sends the session cookie, also to an API on another
 * origin listed in its CORS_ORIGINS. Apollo POSTs JSON, so no CSRF header is needed.
 */
export function createCookieClient(url: string, options: ClientOptions = {}): ApolloClient {
  return new ApolloClient({
    link: httpLink(url, options, 'include'),
    cache: new InMemoryCache({ possibleTypes }),
  });
}

/** Bearer tokens, kept in `store`, refreshed before they expire and on UNAUTHENTICATED. */
export function createTokenClient(
  url: string,
  { store = memoryTokenStore(), ...options }: ClientOptions & { store?: TokenStore } = {},
): ApolloClient {
  // One refresh at a time: a refresh token is single use, and presenting a used one again
  // revokes the whole sign-in.
  let refreshing: Promise<boolean> | null = null;
  const refresh = () => (refreshing ??= renew().finally(() => (refreshing = null)));

  async function renew(): Promise<boolean> {
    const refreshToken = store.get()?.refreshToken;
    if (!refreshToken) return false;
    const { data } = await client.mutate({
      mutation: RenewTokens,
      variables: { refreshToken },
      context: { skipAuth: true },
      errorPolicy: 'none', // errors reject, so `data` is there
    });
    const result = data.refreshTokens;
    // InvalidTokenError: the sign-in has ended (logout, revoked, password changed): signed out.
    store.set(result.__typename === 'TokenPair' ? toTokens(result) : null);
    return result.__typename === 'TokenPair';
  }

  const auth = new SetContextLink(async (context) => {
    if (context.skipAuth) return {};
    const stale = store.get();
    // Refresh expired tokens first: the API takes them for anonymous (`me` answers null).
    if (stale && isExpired(stale)) await refresh();
    const tokens = store.get();
    return tokens ? { headers: { ...context.headers, authorization: `Bearer ${tokens.accessToken}` } } : {};
  });

  const retryOnUnauthenticated = new ErrorLink(({ error, result, operation, forward }) => {
    if (operation.getContext().skipAuth || !store.get()) return;
    if (!CombinedGraphQLErrors.is(error) || !isUnauthenticated(error.errors)) return;
    // Retried once with the new token; if the refresh fails, the caller gets the original answer.
    return from(refresh()).pipe(switchMap((ok) => (ok ? forward(operation) : of(result!))));
  });

  const client = new ApolloClient({
    link: ApolloLink.from([retryOnUnauthenticated, auth, httpLink(url, options)]),
    cache: new InMemoryCache({ possibleTypes }),
  });
  return client;
}

/**
 * Starts a cookie session. Answers `User`, `InvalidCredentialsError`, or `SecondFactorRequired`
 * (check `__typename`): then ask for a code and call `verifySecondFactor`, or `passkeySecondFactor`.
 */
export async function login(client: ApolloClient, email: string, password: string) {
  const { data } = await client.mutate({ mutation: SignIn, variables: { input: { email, password } }, errorPolicy: 'none' });
  await client.clearStore(); // what was cached belonged to whoever was signed in before
  return data.login;
}

/** Signs in with tokens, kept in `store`. Answers `TokenPair`, `InvalidCredentialsError` or `SecondFactorRequired`. */
export async function obtainTokens(client: ApolloClient, store: TokenStore, email: string, password: string) {
  const { data } = await client.mutate({
    mutation: SignInWithTokens,
    variables: { input: { email, password } },
    context: { skipAuth: true },
    errorPolicy: 'none',
  });
  const result = data.obtainTokens;
  if (result.__typename === 'TokenPair') store.set(toTokens(result));
  await client.clearStore();
  return result;
}

/**
 * The second step, with the `challenge` of SecondFactorRequired: a `User` (cookie session) or a
 * `TokenPair` (kept in `store`), as the first step began; `InvalidSecondFactorError` for a wrong
 * code (try again), `InvalidTokenError` when the challenge is over (start again with the password).
 */
export async function verifySecondFactor(client: ApolloClient, challenge: string, answer: SecondFactorAnswer, store?: TokenStore) {
  const { data } = await client.mutate({
    mutation: SecondStep,
    variables: { input: { challenge, ...answer } },
    context: { skipAuth: true },
    errorPolicy: 'none',
  });
  const result = data.verifySecondFactor;
  if (result.__typename === 'TokenPair') store?.set(toTokens(result));
  if (result.__typename === 'User' || result.__typename === 'TokenPair') await client.clearStore();
  return result;
}

/** The second step with a passkey: the browser asks the authenticator for the challenge's `passkeyOptions`. */
export async function passkeySecondFactor(client: ApolloClient, required: { challenge: string; passkeyOptions?: unknown }, store?: TokenStore) {
  const passkeyResponse = await startAuthentication({ optionsJSON: required.passkeyOptions as never });
  return verifySecondFactor(client, required.challenge, { passkeyResponse }, store);
}

/**
 * Signs in with a passkey alone. Without `email` the browser offers every passkey it has for this
 * site; with one, only that account's. Pass `store` for tokens, leave it out for a cookie session.
 * Answers `User`, `TokenPair`, `InvalidCredentialsError` or `InvalidTokenError`.
 */
export async function signInWithPasskey(client: ApolloClient, { email, store }: { email?: string; store?: TokenStore } = {}) {
  const { data: started } = await client.mutate({
    mutation: PasskeyStart,
    variables: { input: { email, tokens: store !== undefined } },
    context: { skipAuth: true },
    errorPolicy: 'none',
  });
  const { challenge, options } = started.startPasskeySignIn;
  const response = await startAuthentication({ optionsJSON: options as never });
  const { data } = await client.mutate({ mutation: PasskeyFinish, variables: { input: { challenge, response } }, context: { skipAuth: true }, errorPolicy: 'none' });
  const result = data.finishPasskeySignIn;
  if (result.__typename === 'TokenPair') store?.set(toTokens(result));
  if (result.__typename === 'User' || result.__typename === 'TokenPair') await client.clearStore();
  return result;
}

/** The signed-in user, or null: asks the server every time. */
export async function me(client: ApolloClient) {
  const { data } = await client.query({ query: CurrentUser, fetchPolicy: 'network-only', errorPolicy: 'none' });
  return data.me;
}

/** Ends the cookie session, or this token sign-in (then pass its store, which is emptied). */
export async function logout(client: ApolloClient, store?: TokenStore) {
  try {
    const { data } = await client.mutate({ mutation: SignOut, errorPolicy: 'none' });
    return data.logout.message;
  } finally {
    store?.set(null);
    await client.clearStore();
  }
}

/**
 * The verification page's call, with the token from its URL (EMAIL_VERIFICATION_URL): the links of
 * both verification and email-change mails lead there. Answers `User` (verified; after a change,
 * with the new email) or `InvalidTokenError` (unknown, used, expired or superseded: offer
 * `sendVerificationEmail`). Needs no sign-in.
 */
export async function verifyEmail(client: ApolloClient, token: string) {
  const { data } = await client.mutate({ mutation: ConfirmEmail, variables: { token }, errorPolicy: 'none' });
  return data.verifyEmail;
}

/** Mails a new verification link to the signed-in user. Always true (RATE_LIMITED when asked too often). */
export async function sendVerificationEmail(client: ApolloClient) {
  const { data } = await client.mutate({ mutation: ResendVerificationEmail, errorPolicy: 'none' });
  return data.sendVerificationEmail;
}

/**
 * Asks to move the signed-in user to `newEmail`. Answers `EmailChangeRequested` (a link went to the
 * new address: show "check your inbox"), `InvalidCredentialsError` (wrong password) or a
 * `ValidationError` on `newEmail`. The email changes when the link is opened (`verifyEmail`).
 */
export async function changeEmail(client: ApolloClient, newEmail: string, currentPassword: string) {
  const { data } = await client.mutate({ mutation: RequestEmailChange, variables: { input: { newEmail, currentPassword } }, errorPolicy: 'none' });
  return data.changeEmail;
}
