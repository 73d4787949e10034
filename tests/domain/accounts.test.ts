// The accounts and credentials domain (src/users.ts, src/auth.ts) called directly, on a real
// database and the real password hasher: no app, no HTTP.
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authenticate, changePassword } from '../../src/auth.ts';
import { findEmailToken, issueEmailToken } from '../../src/emailTokens.ts';
import { InvalidCredentialsError, ValidationError } from '../../src/errors.ts';
import { MAX_NAME_LENGTH } from '../../src/limits.ts';
import { createUser, deleteUser, updateProfile, updateUser } from '../../src/users.ts';
import { publicUserColumns } from '../../src/userRows.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
const NEW_PASSWORD = 'Purple-Monkey-Dishwasher-4';

/** How the request that changes the password is signed in. */
type Credential = Parameters<typeof changePassword>[3];
const HOUR = 60 * 60 * 1000;

let parts: DomainParts;
beforeAll(async () => {
  parts = await domainParts();
});
afterAll(() => parts?.close());

/** A cookie session and a token sign-in, as the session store and TokenService write them. */
async function signIns(userId: number): Promise<{ cookie: string; family: string }> {
  const expiresAt = new Date(Date.now() + HOUR);
  const cookie = `session-${randomUUID()}`;
  const family = `family-${randomUUID()}`;
  await parts.prisma.session.create({ data: { id: cookie, userId, data: '{}', expiresAt } });
  await parts.prisma.tokenFamily.create({ data: { id: family, userId, expiresAt } });
  return { cookie, family };
}

async function liveSignIns(userId: number): Promise<{ cookies: string[]; families: string[] }> {
  const [cookies, families] = await Promise.all([
    parts.prisma.session.findMany({ where: { userId }, select: { id: true }, orderBy: { id: 'asc' } }),
    parts.prisma.tokenFamily.findMany({ where: { userId }, select: { id: true }, orderBy: { id: 'asc' } }),
  ]);
  return { cookies: cookies.map(({ id }) => id), families: families.map(({ id }) => id) };
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('it succeeded'),
    (error: unknown) => error,
  );
}

function fieldsOf(error: unknown): string[] {
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).fieldErrors.map(({ field }) => field);
}

describe('changePassword', () => {
  let user: { id: number; email: string };
  let other: { id: number; email: string };
  let first: { cookie: string; family: string };
  let second: { cookie: string; family: string };
  let others: { cookie: string; family: string };

  beforeEach(async () => {
    user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD, firstName: 'Ada' });
    other = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    first = await signIns(user.id);
    second = await signIns(user.id);
    others = await signIns(other.id);
  });

  it('refuses a wrong current password with InvalidCredentialsError and changes nothing', async () => {
    const error = await thrown(changePassword(parts, user.id, { currentPassword: 'Wrong-Password-1', newPassword: NEW_PASSWORD }, null));
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect((await authenticate(parts, user.email, PASSWORD)).outcome).toBe('signedIn');
    expect((await liveSignIns(user.id)).cookies).toHaveLength(2);
    expect((await liveSignIns(user.id)).families).toHaveLength(2);
  });

  it.each([
    ['too short', 'Ab1-x'],
    ['too common', 'password123'],
    ['too like the email', 'EMAIL'],
  ])('refuses a new password that is %s with a ValidationError on newPassword, and changes nothing', async (_case, weak) => {
    const newPassword = weak === 'EMAIL' ? user.email : weak;
    const error = await thrown(changePassword(parts, user.id, { currentPassword: PASSWORD, newPassword }, null));
    expect(fieldsOf(error)).toEqual(['newPassword']);
    expect((await authenticate(parts, user.email, PASSWORD)).outcome).toBe('signedIn');
    expect(await liveSignIns(user.id)).toEqual({ cookies: [first.cookie, second.cookie].sort(), families: [first.family, second.family].sort() });
  });

  it('from a token sign-in: sets the password and ends every other sign-in of the user, keeping that one', async () => {
    const current: Credential = { kind: 'token', familyId: second.family };
    const changed = await changePassword(parts, user.id, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, current);
    expect(changed).toMatchObject({ id: user.id, email: user.email, firstName: 'Ada' });
    expect(changed).not.toHaveProperty('passwordHash');
    expect(await liveSignIns(user.id)).toEqual({ cookies: [], families: [second.family] });
    expect((await authenticate(parts, user.email, NEW_PASSWORD)).outcome).toBe('signedIn');
    expect((await authenticate(parts, user.email, PASSWORD)).outcome).toBe('failed');
  });

  it('from a cookie session: ends every sign-in of the user, that session included (the caller starts a new one)', async () => {
    const current: Credential = { kind: 'cookie', sessionKey: first.cookie };
    await changePassword(parts, user.id, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, current);
    expect(await liveSignIns(user.id)).toEqual({ cookies: [], families: [] });
  });

  it('spares other users, and retires the user’s pending reset and email-change links', async () => {
    const reset = await issueEmailToken(parts.prisma, { userId: user.id, purpose: 'PASSWORD_RESET', email: user.email });
    const othersReset = await issueEmailToken(parts.prisma, { userId: other.id, purpose: 'PASSWORD_RESET', email: other.email });
    await changePassword(parts, user.id, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, null);
    expect(await findEmailToken(parts.prisma, reset, ['PASSWORD_RESET'])).toBeNull();
    expect(await findEmailToken(parts.prisma, othersReset, ['PASSWORD_RESET'])).not.toBeNull();
    expect(await liveSignIns(other.id)).toEqual({ cookies: [others.cookie], families: [others.family] });
    expect((await authenticate(parts, other.email, PASSWORD)).outcome).toBe('signedIn');
  });
});

describe('updateProfile', () => {
  let user: { id: number; email: string };

  beforeEach(async () => {
    user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD, firstName: 'Ada', lastName: 'Lovelace' });
  });

  async function names() {
    return parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { firstName: true, lastName: true } });
  }

  it('sets the names trimmed and returns the public user', async () => {
    const updated = await updateProfile(parts, user.id, { firstName: '  Grace ', lastName: ' Hopper  ' });
    expect(updated).toMatchObject({ id: user.id, email: user.email, firstName: 'Grace', lastName: 'Hopper' });
    expect(updated).not.toHaveProperty('passwordHash');
    expect(await names()).toEqual({ firstName: 'Grace', lastName: 'Hopper' });
  });

  it('keeps an omitted or null name', async () => {
    await updateProfile(parts, user.id, { lastName: 'Byron' });
    expect(await names()).toEqual({ firstName: 'Ada', lastName: 'Byron' });
    await updateProfile(parts, user.id, { firstName: 'Augusta', lastName: null });
    expect(await names()).toEqual({ firstName: 'Augusta', lastName: 'Byron' });
  });

  it(`refuses names over ${MAX_NAME_LENGTH} characters, every field at once, and changes nothing`, async () => {
    const long = 'x'.repeat(MAX_NAME_LENGTH + 1);
    const error = await thrown(updateProfile(parts, user.id, { firstName: long, lastName: long }));
    expect(fieldsOf(error)).toEqual(['firstName', 'lastName']);
    expect((error as ValidationError).fieldErrors[0]!.messages).toEqual([`Ensure this value has at most ${MAX_NAME_LENGTH} characters.`]);
    expect(await names()).toEqual({ firstName: 'Ada', lastName: 'Lovelace' });
  });

  it(`counts characters, not UTF-16 units: ${MAX_NAME_LENGTH} emoji are a valid name`, async () => {
    const emoji = '😀'.repeat(MAX_NAME_LENGTH);
    await updateProfile(parts, user.id, { firstName: emoji });
    expect((await names()).firstName).toBe(emoji);
    expect(fieldsOf(await thrown(updateProfile(parts, user.id, { firstName: `${emoji}😀` })))).toEqual(['firstName']);
  });
});

describe('createUser (register)', () => {
  it('stores the email trimmed and lower-cased, the names trimmed, the password hashed, and no grants', async () => {
    const local = randomUUID();
    const user = await createUser(parts, { email: `  ${local.toUpperCase()}@Accounts.TEST `, password: PASSWORD, firstName: ' Ada ', lastName: null });
    expect(user).toMatchObject({ email: `${local}@accounts.test`, firstName: 'Ada', lastName: '', isStaff: false, isActive: true, emailVerified: false });
    expect(user).not.toHaveProperty('passwordHash');
    const { passwordHash } = await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { passwordHash: true } });
    expect(passwordHash).not.toContain(PASSWORD);
    expect(await parts.hasher.verify(PASSWORD, passwordHash)).toBe(true);
  });

  it('reports every invalid field at once and creates nothing', async () => {
    const before = await parts.prisma.user.count();
    const error = await thrown(
      createUser(parts, { email: 'not-an-address', password: 'short', firstName: 'x'.repeat(MAX_NAME_LENGTH + 1), roles: ['Not A Role'] }),
    );
    expect(fieldsOf(error)).toEqual(['email', 'password', 'firstName', 'roles']);
    expect(await parts.prisma.user.count()).toBe(before);
  });

  it('refuses an address already taken, in any case, also when two registrations race', async () => {
    const email = `${randomUUID()}@accounts.test`;
    await createUser(parts, { email, password: PASSWORD });
    expect((await thrown(createUser(parts, { email: email.toUpperCase(), password: PASSWORD })) as ValidationError).fieldErrors).toEqual([
      { field: 'email', messages: ['A user with that email already exists.'] },
    ]);
    const racing = `${randomUUID()}@accounts.test`;
    const outcomes = await Promise.allSettled([createUser(parts, { email: racing, password: PASSWORD }), createUser(parts, { email: racing, password: PASSWORD })]);
    expect(outcomes.filter(({ status }) => status === 'fulfilled')).toHaveLength(1);
    expect(fieldsOf(outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')!.reason)).toEqual(['email']);
  });
});

describe('authenticate', () => {
  it('signs in with the right password, in any case of the email, and records the login', async () => {
    const user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    const result = await authenticate(parts, ` ${user.email.toUpperCase()}`, PASSWORD);
    expect(result).toMatchObject({ outcome: 'signedIn', user: { id: user.id, email: user.email } });
    expect(result.outcome === 'signedIn' && result.user.lastLogin).toBeInstanceOf(Date);
    // The answer is the stored row: every public column, the recorded login included.
    const stored = await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: publicUserColumns });
    expect(result).toEqual({ outcome: 'signedIn', user: stored });
  });

  it('refuses an account deactivated while its password is being checked, and records no login', async () => {
    const user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    const deactivatingHasher = Object.create(parts.hasher, {
      verify: {
        value: async (password: string, hash: string | undefined) => {
          const matches = await parts.hasher.verify(password, hash);
          await parts.prisma.user.update({ where: { id: user.id }, data: { isActive: false } });
          return matches;
        },
      },
    }) as typeof parts.hasher;
    expect(await authenticate({ ...parts, hasher: deactivatingHasher }, user.email, PASSWORD)).toEqual({ outcome: 'failed', accountId: user.id });
    const { lastLogin } = await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { lastLogin: true } });
    expect(lastLogin).toBeNull();
  });

  it('fails alike for a wrong password, an inactive account and an unknown email, each after one password check', async () => {
    const user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    const inactive = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD, isActive: false });
    for (const [email, password, accountId] of [
      [user.email, 'Wrong-Password-1', user.id],
      [inactive.email, PASSWORD, inactive.id],
      [`${randomUUID()}@accounts.test`, PASSWORD, null],
      ['', PASSWORD, null],
    ] as const) {
      const checks = parts.hasher.operations;
      expect(await authenticate(parts, email, password)).toEqual({ outcome: 'failed', accountId });
      expect(parts.hasher.operations - checks).toBe(1);
    }
    const { lastLogin } = await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { lastLogin: true } });
    expect(lastLogin).toBeNull();
  });

  it('asks for the second factor of an account that has one, without recording a login', async () => {
    const user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    await parts.prisma.user.update({ where: { id: user.id }, data: { hasSecondFactor: true } });
    expect(await authenticate(parts, user.email, PASSWORD)).toEqual({ outcome: 'secondFactor', userId: user.id });
    expect((await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { lastLogin: true } })).lastLogin).toBeNull();
  });

  it('rehashes a password stored at another cost', async () => {
    const user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    await parts.prisma.user.update({ where: { id: user.id }, data: { passwordHash: await bcrypt.hash(PASSWORD, parts.hasher.cost + 1) } });
    expect((await authenticate(parts, user.email, PASSWORD)).outcome).toBe('signedIn');
    const { passwordHash } = await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { passwordHash: true } });
    expect(bcrypt.getRounds(passwordHash)).toBe(parts.hasher.cost);
    expect(await parts.hasher.verify(PASSWORD, passwordHash)).toBe(true);
  });
});

describe('updateUser and deleteUser (staff)', () => {
  let user: { id: number; email: string };
  let sessions: { cookie: string; family: string };

  beforeEach(async () => {
    user = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD, emailVerified: true, roles: ['support'] });
    sessions = await signIns(user.id);
  });

  it('changes only what is given; new roles replace the old and sessions go on', async () => {
    const updated = await updateUser(parts, user.id, { lastName: ' Byron ', roles: ['auditor'], isStaff: true });
    expect(updated).toMatchObject({ email: user.email, lastName: 'Byron', isStaff: true, isActive: true, emailVerified: true });
    const roles = await parts.prisma.userRole.findMany({ where: { userId: user.id }, select: { role: true } });
    expect(roles).toEqual([{ role: 'auditor' }]);
    expect(await liveSignIns(user.id)).toEqual({ cookies: [sessions.cookie], families: [sessions.family] });
  });

  it.each([
    ['a new password', { password: NEW_PASSWORD }],
    ['deactivation', { isActive: false }],
  ])('%s ends every session of the user', async (_case, changes) => {
    await updateUser(parts, user.id, changes);
    expect(await liveSignIns(user.id)).toEqual({ cookies: [], families: [] });
  });

  it('a new email is unverified unless staff say otherwise, and must be free', async () => {
    const taken = await createUser(parts, { email: `${randomUUID()}@accounts.test`, password: PASSWORD });
    expect(fieldsOf(await thrown(updateUser(parts, user.id, { email: taken.email })))).toEqual(['email']);
    const email = `${randomUUID()}@accounts.test`;
    expect(await updateUser(parts, user.id, { email: email.toUpperCase() })).toMatchObject({ email, emailVerified: false });
    expect(await updateUser(parts, user.id, { email: `x${email}`, emailVerified: true })).toMatchObject({ emailVerified: true });
  });

  it('keeps staff from taking away their own staff status or activity, and changes nothing then', async () => {
    const error = await thrown(updateUser(parts, user.id, { isStaff: false, isActive: false, firstName: 'Changed' }, user.id));
    expect((error as ValidationError).fieldErrors).toEqual([
      { field: 'isStaff', messages: ['You cannot remove your own staff status.'] },
      { field: 'isActive', messages: ['You cannot deactivate your own account.'] },
    ]);
    expect(await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { firstName: true, isActive: true } })).toEqual({ firstName: '', isActive: true });
    expect(await updateUser(parts, user.id, { isActive: false }, user.id + 1)).toMatchObject({ isActive: false });
  });

  it('answers null for a user that does not exist, and deleteUser removes the user with their sessions', async () => {
    expect(await updateUser(parts, 987_654_321, { firstName: 'Nobody' })).toBeNull();
    expect(await deleteUser(parts, user.id, user.id + 1)).toEqual({ kind: 'deleted', email: user.email });
    expect(await parts.prisma.user.findUnique({ where: { id: user.id } })).toBeNull();
    expect(await liveSignIns(user.id)).toEqual({ cookies: [], families: [] });
    expect(await deleteUser(parts, user.id, user.id + 1)).toEqual({ kind: 'notFound' });
  });

  it('deleteUser refuses one’s own account and leaves it as it is', async () => {
    expect(await deleteUser(parts, user.id, user.id)).toEqual({ kind: 'self' });
    expect(await parts.prisma.user.findUnique({ where: { id: user.id }, select: { id: true } })).toEqual({ id: user.id });
  });
});
