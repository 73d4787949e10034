// What the audit log does not record: refused operations, and events it cannot write.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomToken } from '../src/opaqueTokens.ts';
import { startTestApp, TEST_PASSWORD } from './helpers/app.ts';
import { capturingLogger } from './helpers/logs.ts';
import { type Account, app, CHANGED_PASSWORD, login, type Outcome, outcome, RESET_PASSWORD, staff, useAuditApp, type Visitor, visitor, WRONG_PASSWORD } from './helpers/auditSuite.ts';
import { ChangePassword, RevokeSession } from './operations/account.ts';
import { Login, Logout, Register } from './operations/auth.ts';
import { ResetPassword } from './operations/passwordReset.ts';
import { RefreshTokenPair } from './operations/tokens.ts';
import { CreateUser, DeleteUser, UpdateUser } from './operations/users.ts';

useAuditApp();

describe('failures that are not events record nothing', () => {
  let member: Account;
  let signedIn: Visitor;

  beforeAll(async () => {
    member = await app.createUser({ email: 'not-an-event@example.com' });
    await app.createUser({ email: 'taken@example.com' });
    signedIn = visitor('member');
    await login(signedIn, member.email);
  });

  const anonymous = () => visitor('anonymous').client;

  it.each<[string, () => Promise<Outcome>, unknown]>([
    [
      'register with an invalid email',
      () => anonymous().request(Register, { input: { email: 'not-an-email', password: TEST_PASSWORD } }),
      'ValidationError',
    ],
    [
      'register with a taken email',
      () => anonymous().request(Register, { input: { email: 'Taken@example.com', password: TEST_PASSWORD } }),
      'ValidationError',
    ],
    [
      'register with a common password',
      () => anonymous().request(Register, { input: { email: 'weak-password@example.com', password: 'password' } }),
      'ValidationError',
    ],
    [
      'createUser with an invalid email',
      () => staff.request(CreateUser, { input: { email: 'nope', password: TEST_PASSWORD } }),
      'ValidationError',
    ],
    [
      'createUser by a user who is not staff',
      () => signedIn.client.request(CreateUser, { input: { email: 'sneaky@example.com', password: TEST_PASSWORD } }),
      'FORBIDDEN',
    ],
    ['updateUser of no such user', () => staff.request(UpdateUser, { id: '999999', input: { lastName: 'Nobody' } }), 'NotFoundError'],
    ['deleteUser of no such user', () => staff.request(DeleteUser, { id: '999999' }), 'NotFoundError'],
    [
      'resetPassword with an unknown token',
      () => anonymous().request(ResetPassword, { input: { token: randomToken(), newPassword: RESET_PASSWORD } }),
      'InvalidTokenError',
    ],
    ['refreshTokens with an unknown token', () => anonymous().request(RefreshTokenPair, { refreshToken: randomToken() }), 'InvalidTokenError'],
    [
      'changePassword with a wrong current password',
      () => signedIn.client.request(ChangePassword, { input: { currentPassword: WRONG_PASSWORD, newPassword: CHANGED_PASSWORD } }),
      'InvalidCredentialsError',
    ],
    [
      'changePassword to a common password',
      () => signedIn.client.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: 'password' } }),
      'ValidationError',
    ],
    ['revokeSession of a session that does not exist', () => signedIn.client.request(RevokeSession, { id: 'c_nothing' }), false],
    ['logout while anonymous', () => anonymous().request(Logout), 'UNAUTHENTICATED'],
  ])('%s', async (_case, send, expected) => {
    const before = await app.services.prisma.authEvent.count();
    expect(outcome(await send())).toBe(expected);
    expect(await app.services.prisma.authEvent.count()).toBe(before);
  });
});

describe('when an event cannot be recorded', () => {
  it('register, login, a failed login and logout still answer as usual, and each failure is logged', async () => {
    const { lines, logger } = capturingLogger('error');
    const broken = await startTestApp({}, { logger });
    try {
      await broken.services.prisma.$executeRawUnsafe('DROP TABLE "AuthEvent"');
      const client = broken.client();
      const registered = await client.request(Register, { input: { email: 'unrecorded@example.com', password: TEST_PASSWORD } });
      expect(registered.errors).toBeUndefined();
      expect(registered.data?.register.__typename).toBe('User');
      const wrong = await client.request(Login, { input: { email: 'unrecorded@example.com', password: WRONG_PASSWORD } });
      expect(wrong.data?.login.__typename).toBe('InvalidCredentialsError');
      const login = await client.request(Login, { input: { email: 'unrecorded@example.com', password: TEST_PASSWORD } });
      expect(login.errors).toBeUndefined();
      expect(login.data?.login.__typename).toBe('User');
      expect((await client.request(Logout)).data?.logout.message).toBe('Successfully logged out');

      const failures = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'could not record an auth event');
      expect(failures.map((entry) => entry.kind)).toEqual(['REGISTERED', 'LOGIN_FAILED', 'LOGIN_SUCCEEDED', 'LOGOUT']);
      expect(failures.every((entry) => entry.level === 50 && /AuthEvent/.test(JSON.stringify(entry.err)))).toBe(true);
      const text = lines.join('\n');
      expect(text).not.toContain(TEST_PASSWORD);
      expect(text).not.toContain(WRONG_PASSWORD);
    } finally {
      await broken.stop();
    }
  });
});
