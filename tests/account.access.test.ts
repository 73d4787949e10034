// What the account operations answer a client that is not signed in.
import { describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/app.ts';
import { client, cookieClient, describeNoPasswordHashes, NEW_PASSWORD, newUser, useAccountApp } from './helpers/accountSuite.ts';
import { ChangePassword, MySessions, RevokeSession, UpdateMe } from './operations/account.ts';
import { LogoutEverywhere } from './operations/auth.ts';

useAccountApp();

describe('anonymous clients', () => {
  const fields = [
    ['mySessions', () => client().request(MySessions)],
    ['updateMe', () => client().request(UpdateMe, { input: { firstName: 'Anon' } })],
    ['changePassword', () => client().request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } })],
    ['revokeSession', () => client().request(RevokeSession, { id: 'c_anything' })],
    ['logoutEverywhere', () => client().request(LogoutEverywhere)],
  ] as const;

  it.each(fields)('%s is UNAUTHENTICATED', async (_field, send) => {
    const result = await send();
    expect(result.data).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('an invalid bearer token is UNAUTHENTICATED, even alongside a valid cookie', async () => {
    const { email } = await newUser('bad-bearer');
    const signedIn = await cookieClient(email);
    const forged = client({ authorization: 'Bearer not-a-jwt' });
    forged.cookies.set('sid', signedIn.cookies.get('sid')!);
    const result = await forged.request(MySessions);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describeNoPasswordHashes();
