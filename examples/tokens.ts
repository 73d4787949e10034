// Where a token client keeps its sign-in. Both example clients take any TokenStore.

export interface Tokens {
  accessToken: string;
  /** ISO 8601, as the API returns it. */
  accessTokenExpiresAt: string;
  /** Single use: every refresh returns a new one, and only the newest may be kept. */
  refreshToken: string;
}

export interface TokenStore {
  get(): Tokens | null;
  /** `null` signs out. */
  set(tokens: Tokens | null): void;
}

/** The default: forgotten on reload. */
export function memoryTokenStore(initial: Tokens | null = null): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

/** Survives reloads, e.g. `storageTokenStore(localStorage)`; readable by any script on the page. */
export function storageTokenStore(
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>,
  key = 'auth-tokens',
): TokenStore {
  return {
    get: () => JSON.parse(storage.getItem(key) ?? 'null') as Tokens | null,
    set: (tokens) => (tokens ? storage.setItem(key, JSON.stringify(tokens)) : storage.removeItem(key)),
  };
}

/** Keeps only the three fields a client needs from a `TokenPair`. */
export function toTokens({ accessToken, accessTokenExpiresAt, refreshToken }: Tokens): Tokens {
  return { accessToken, accessTokenExpiresAt, refreshToken };
}

/**
 * True once the access token has expired by this device's clock. Refresh then, before sending:
 * the API treats an expired token as anonymous, so `me` answers null rather than an error.
 */
export function isExpired(tokens: Tokens): boolean {
  return Date.parse(tokens.accessTokenExpiresAt) <= Date.now();
}

/** Whether a GraphQL error list contains the API's "sign in first" refusal. */
export function isUnauthenticated(errors: readonly { extensions?: Record<string, unknown> }[] | undefined): boolean {
  return (errors ?? []).some((error) => error.extensions?.code === 'UNAUTHENTICATED');
}

/** How the second step of a sign-in is answered: a code from the authenticator app, a recovery code, or a passkey. */
export type SecondFactorAnswer = { totpCode: string } | { recoveryCode: string } | { passkeyResponse: unknown };
