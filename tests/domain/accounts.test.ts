// The accounts and credentials domain (src/users.ts, src/auth.ts) called directly, on a real
// database and the real password hasher: no app, no HTTP.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authenticate, changePassword } from '../../src/auth.ts';
import { findEmailToken, issueEmailToken } from '../../src/emailTokens.ts';
import { InvalidCredentialsError, ValidationError } from '../../src/errors.ts';
import { MAX_NAME_LENGTH } from '../../src/limits.ts';
import { createUser, updateProfile } from '../../src/users.ts';
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
