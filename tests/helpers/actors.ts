import { expect } from 'vitest';
import { Login, Me } from '../operations/auth.ts';
import { ObtainTokenPair } from '../operations/tokens.ts';
import { TEST_PASSWORD, type TestApp, type TestClient } from './app.ts';

// The people tests act as, built on startTestApp's client() and signedIn(): a browser (a client
// with a cookie jar, signed in by login), a token client (Authorization: Bearer) and a staff member.

/** A browser signed in as an existing user, with its own cookie jar. */
export async function browserOf(app: Pick<TestApp, 'client'>, email: string, password = TEST_PASSWORD, headers: Record<string, string> = {}): Promise<TestClient> {
  const browser = app.client(headers);
  await browser.login(email, password);
  return browser;
}

/** A client that sends the access token in the Authorization header, and no cookie. */
export function tokenClient(app: Pick<TestApp, 'client'>, accessToken: string, headers: Record<string, string> = {}): TestClient {
  return app.client({ ...headers, authorization: `Bearer ${accessToken}` });
}

/** Signs in with obtainTokens from this client and returns the token pair (throws on any other answer). */
export async function tokenPairOf(client: TestClient, email: string, password = TEST_PASSWORD) {
  const result = await client.request(ObtainTokenPair, { input: { email, password } });
  const pair = result.data?.obtainTokens;
  if (pair?.__typename !== 'TokenPair') throw new Error(`obtainTokens failed for ${email}: ${JSON.stringify(result)}`);
  return pair;
}

/** A browser signed in as a new staff member. */
export function staffMember(app: Pick<TestApp, 'signedIn'>, email: string): Promise<TestClient> {
  return app.signedIn({ email, isStaff: true });
}

/** Who the client is signed in as (null for nobody); the request itself must not fail. */
export async function meOf(client: TestClient) {
  const result = await client.request(Me);
  expect(result.errors).toBeUndefined();
  return result.data?.me ?? null;
}

/** The __typename login answers for these credentials, from a fresh client. */
export async function loginOutcome(client: TestClient, email: string, password: string) {
  return (await client.request(Login, { input: { email, password } })).data?.login.__typename;
}
