// changePassword.
import { describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/app.ts';
import { loginOutcome, meOf } from './helpers/actors.ts';
import { client, cookieClient, describeNoPasswordHashes, liveCounts, NEW_PASSWORD, newUser, rawSessionId, refreshOutcome, sessionsOf, storedHash, tokenSignIn, useAccountApp } from './helpers/accountSuite.ts';
import { ChangePassword } from './operations/account.ts';

useAccountApp();

describe('changePassword', () => {

  it('refuses a wrong current password with InvalidCredentialsError and changes nothing', async () => {
    const user = await newUser('change-wrong');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const otherBrowser = await cookieClient(user.email, 'Other/1.0');
    const { bearer, refreshToken } = await tokenSignIn(user.email);
    const cookie = caller.cookies.get('sid');
    const passwordHash = await storedHash(user.id);

    const result = await caller.request(ChangePassword, { input: { currentPassword: 'Not-The-Password-1', newPassword: NEW_PASSWORD } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.changePassword).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    expect(result.headers.getSetCookie()).toEqual([]);
    expect(caller.cookies.get('sid')).toBe(cookie);

    expect(await storedHash(user.id)).toBe(passwordHash);
    expect(await meOf(caller)).toMatchObject({ email: user.email });
    expect(await meOf(otherBrowser)).toMatchObject({ email: user.email });
    expect(await meOf(bearer)).toMatchObject({ email: user.email });
    expect(await refreshOutcome(refreshToken)).toBe('TokenPair');
    expect(await liveCounts(user.id)).toEqual({ sessions: 2, families: 1 });
    expect(await loginOutcome(client(), user.email, NEW_PASSWORD)).toBe('InvalidCredentialsError');
  });

  it('reports every failing rule of a weak new password on newPassword and changes nothing', async () => {
    const user = await newUser('change-weak');
    const caller = await cookieClient(user.email);
    const otherBrowser = await cookieClient(user.email);
    const passwordHash = await storedHash(user.id);

    const result = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: '1234' } });
    expect(result.data?.changePassword).toEqual({
      __typename: 'ValidationError',
      message: expect.any(String),
      fieldErrors: [
        {
          field: 'newPassword',
          messages: [
            'This password is too short. It must contain at least 8 characters.',
            'This password is entirely numeric.',
            'This password is too common.',
          ],
        },
      ],
    });
    expect(await storedHash(user.id)).toBe(passwordHash);
    expect(await meOf(otherBrowser)).toMatchObject({ email: user.email });
    expect(await liveCounts(user.id)).toEqual({ sessions: 2, families: 0 });
  });

  it('refuses a new password similar to the user’s own names or email', async () => {
    const user = await newUser('change-similar', { firstName: 'Jonathan', lastName: 'Swift' });
    const caller = await cookieClient(user.email);
    const names = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: 'jonathan99!' } });
    expect(names.data?.changePassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['The password is too similar to the first name.'] }],
    });
    const email = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: user.email } });
    expect(email.data?.changePassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['The password is too similar to the email address.'] }],
    });
  });

  it('from a cookie session: keeps the caller signed in under a new cookie and ends every other session', async () => {
    const user = await newUser('change-cookie');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const otherBrowser = await cookieClient(user.email, 'Other/1.0');
    const app1 = await tokenSignIn(user.email);
    const oldCookie = caller.cookies.get('sid')!;
    const passwordHash = await storedHash(user.id);

    const result = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.changePassword).toEqual({
      __typename: 'User',
      id: expect.any(String),
      email: user.email,
      firstName: '',
      lastName: '',
      isStaff: false,
      isActive: true,
      emailVerified: false,
      dateJoined: expect.any(String),
      lastLogin: expect.any(String),
    });
    expect(result.headers.getSetCookie().join()).toMatch(/^sid=/);
    const newCookie = caller.cookies.get('sid');
    expect(newCookie).toBeDefined();
    expect(newCookie).not.toBe(oldCookie);
    expect(rawSessionId(newCookie!)).not.toBe(rawSessionId(oldCookie));

    expect(await meOf(caller)).toMatchObject({ email: user.email });
    const sessions = await sessionsOf(caller);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ current: true, userAgent: 'Caller/1.0' });

    const replay = client();
    replay.cookies.set('sid', oldCookie);
    expect(await meOf(replay)).toBeNull();
    expect(await meOf(otherBrowser)).toBeNull();
    expect(await meOf(app1.bearer)).toBeNull();
    expect(await refreshOutcome(app1.refreshToken)).toBe('InvalidTokenError');
    expect(await liveCounts(user.id)).toEqual({ sessions: 1, families: 0 });

    expect(await storedHash(user.id)).not.toBe(passwordHash);
    expect(await loginOutcome(client(), user.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect(await loginOutcome(client(), user.email, NEW_PASSWORD)).toBe('User');
  });

  it('from a bearer client: keeps that token working and ends every other session', async () => {
    const user = await newUser('change-bearer');
    const browser = await cookieClient(user.email);
    const caller = await tokenSignIn(user.email, 'Caller-App/1.0');
    const otherApp = await tokenSignIn(user.email, 'Other-App/1.0');

    const result = await caller.bearer.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
    expect(result.data?.changePassword).toMatchObject({ __typename: 'User', email: user.email });
    expect(result.headers.getSetCookie()).toEqual([]);

    expect(await meOf(caller.bearer)).toMatchObject({ email: user.email });
    const sessions = await sessionsOf(caller.bearer);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ current: true, userAgent: 'Caller-App/1.0' });
    expect(await meOf(browser)).toBeNull();
    expect(await meOf(otherApp.bearer)).toBeNull();
    expect(await refreshOutcome(otherApp.refreshToken)).toBe('InvalidTokenError');
    expect(await refreshOutcome(caller.refreshToken)).toBe('TokenPair');
    expect(await liveCounts(user.id)).toEqual({ sessions: 0, families: 1 });

    expect(await loginOutcome(client(), user.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect(await loginOutcome(client(), user.email, NEW_PASSWORD)).toBe('User');
  });
});

describeNoPasswordHashes();
