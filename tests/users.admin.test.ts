// createUser, updateUser and deleteUser.
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/app.ts';
import { browserOf, loginOutcome, meOf } from './helpers/actors.ts';
import { app, EMAIL_TAKEN, errorCode, fieldErrors, NEW_PASSWORD, NOT_FOUND, sessionCount, type SignedInUser, signIn, staff, userRow, useUsersApp } from './helpers/usersSuite.ts';
import { CreateUser, DeleteUser, UpdateUser, UserById } from './operations/users.ts';

useUsersApp();

describe('createUser', () => {
  it('creates a user with the given flags and a normalised email', async () => {
    const result = await staff.client.request(CreateUser, {
      input: { email: '  New.Staff@Create.TEST ', password: TEST_PASSWORD, firstName: ' Grace ', lastName: 'Hopper', isStaff: true, isActive: false },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createUser).toMatchObject({
      __typename: 'User',
      email: 'new.staff@create.test',
      firstName: 'Grace',
      lastName: 'Hopper',
      isStaff: true,
      isActive: false,
      lastLogin: null,
    });
    const id = Number((result.data!.createUser as { id: string }).id);
    expect(await userRow(id)).toMatchObject({ email: 'new.staff@create.test', isStaff: true, isActive: false });
    expect((await userRow(id))!.passwordHash).toMatch(/^\$2[ab]\$/);
  });

  it('creates an active non-staff user by default, who can then log in', async () => {
    const result = await staff.client.request(CreateUser, { input: { email: 'plain@create.test', password: TEST_PASSWORD } });
    expect(result.data?.createUser).toMatchObject({ __typename: 'User', isStaff: false, isActive: true, firstName: '', lastName: '' });
    const client = await browserOf(app, 'plain@create.test');
    expect(await meOf(client)).toMatchObject({ email: 'plain@create.test', isStaff: false });
  });

  it('creates an inactive user who cannot log in', async () => {
    await staff.client.request(CreateUser, { input: { email: 'inactive@create.test', password: TEST_PASSWORD, isActive: false } });
    expect(await loginOutcome(app.client(), 'inactive@create.test', TEST_PASSWORD)).toBe('InvalidCredentialsError');
  });

  it('refuses an email taken in another case', async () => {
    await app.createUser({ email: 'taken@create.test' });
    const result = await staff.client.request(CreateUser, { input: { email: 'Taken@CREATE.test', password: TEST_PASSWORD } });
    expect(fieldErrors(result.data?.createUser)).toEqual({ email: EMAIL_TAKEN });
    expect(await app.services.prisma.user.count({ where: { email: 'taken@create.test' } })).toBe(1);
  });

  it('refuses a weak password', async () => {
    const result = await staff.client.request(CreateUser, { input: { email: 'weak@create.test', password: 'password' } });
    expect(fieldErrors(result.data?.createUser)).toEqual({ password: ['This password is too common.'] });
    expect(await app.services.prisma.user.count({ where: { email: 'weak@create.test' } })).toBe(0);
  });

  it('reports a taken email and a weak password in one ValidationError', async () => {
    await app.createUser({ email: 'taken-too@create.test' });
    const result = await staff.client.request(CreateUser, { input: { email: 'taken-too@create.test', password: '12345678' } });
    expect(fieldErrors(result.data?.createUser)).toEqual({
      email: EMAIL_TAKEN,
      password: ['This password is entirely numeric.', 'This password is too common.'],
    });
  });
});

describe('updateUser', () => {
  it('changes only the given field', async () => {
    const target = await signIn({ email: 'partial@update.test', firstName: 'Old', lastName: 'Name', isStaff: true });
    const before = (await userRow(target.id))!;
    const result = await staff.client.request(UpdateUser, { id: String(target.id), input: { firstName: 'New' } });
    expect(result.data?.updateUser).toMatchObject({ __typename: 'User', firstName: 'New', lastName: 'Name', isStaff: true, isActive: true });
    expect(await userRow(target.id)).toEqual({ ...before, firstName: 'New' });
    expect(await meOf(target.client)).toMatchObject({ firstName: 'New' });
  });

  it('treats explicit nulls as omitted', async () => {
    const { id } = await app.createUser({ email: 'nulls@update.test', firstName: 'Keep', isStaff: true });
    const before = (await userRow(id))!;
    const result = await staff.client.request(UpdateUser, {
      id: String(id),
      input: { email: null, password: null, firstName: null, lastName: null, isStaff: null, isActive: null },
    });
    expect(result.data?.updateUser).toMatchObject({ __typename: 'User', firstName: 'Keep', isStaff: true });
    expect(await userRow(id)).toEqual(before);
  });

  it('normalises a new email', async () => {
    const { id } = await app.createUser({ email: 'rename@update.test' });
    const result = await staff.client.request(UpdateUser, { id: String(id), input: { email: '  Renamed.User@Update.TEST ' } });
    expect(result.data?.updateUser).toMatchObject({ __typename: 'User', email: 'renamed.user@update.test' });
    expect((await userRow(id))!.email).toBe('renamed.user@update.test');
    await browserOf(app, 'renamed.user@update.test');
  });

  it('accepts the user’s own email in another case', async () => {
    const { id } = await app.createUser({ email: 'same@update.test' });
    const result = await staff.client.request(UpdateUser, { id: String(id), input: { email: 'SAME@update.test' } });
    expect(result.data?.updateUser).toMatchObject({ __typename: 'User', email: 'same@update.test' });
  });

  it('refuses an email taken by another user', async () => {
    await app.createUser({ email: 'owner@update.test' });
    const { id } = await app.createUser({ email: 'other@update.test' });
    const before = (await userRow(id))!;
    const result = await staff.client.request(UpdateUser, { id: String(id), input: { email: 'Owner@Update.test', firstName: 'Changed' } });
    expect(fieldErrors(result.data?.updateUser)).toEqual({ email: EMAIL_TAKEN });
    expect(await userRow(id)).toEqual(before);
  });

  it('refuses a weak password and keeps the old one', async () => {
    const { id, email } = await app.createUser({ email: 'weak@update.test' });
    const result = await staff.client.request(UpdateUser, { id: String(id), input: { password: 'abc' } });
    expect(fieldErrors(result.data?.updateUser).password).toContain('This password is too short. It must contain at least 8 characters.');
    expect(await loginOutcome(app.client(), email, TEST_PASSWORD)).toBe('User');
  });

  it.each(['999999', 'abc', '0', '1.5'])('answers NotFoundError for the id %j', async (id) => {
    const result = await staff.client.request(UpdateUser, { id, input: { firstName: 'Nobody' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.updateUser).toEqual(NOT_FOUND);
  });

  it('a new password ends all of the user’s sessions; only the new password logs in', async () => {
    const target = await signIn({ email: 'password@update.test' });
    const second = await browserOf(app, target.email);
    expect(await meOf(target.client)).not.toBeNull();
    expect(await meOf(second)).not.toBeNull();
    expect(await sessionCount(target.id)).toBe(2);

    const result = await staff.client.request(UpdateUser, { id: String(target.id), input: { password: NEW_PASSWORD } });
    expect(result.data?.updateUser).toMatchObject({ __typename: 'User', id: String(target.id) });

    expect(await meOf(target.client)).toBeNull();
    expect(await meOf(second)).toBeNull();
    expect(await sessionCount(target.id)).toBe(0);
    expect(await loginOutcome(app.client(), target.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect(await loginOutcome(app.client(), target.email, NEW_PASSWORD)).toBe('User');
  });

  it('keeps other users’ sessions when one user’s password is set', async () => {
    const bystander = await signIn({ email: 'bystander@update.test' });
    const { id } = await app.createUser({ email: 'reset-only-me@update.test' });
    await staff.client.request(UpdateUser, { id: String(id), input: { password: NEW_PASSWORD } });
    expect(await meOf(bystander.client)).toMatchObject({ email: bystander.email });
    expect(await meOf(staff.client)).toMatchObject({ email: staff.email });
  });

  it('deactivating a user ends their sessions for good and stops them logging in', async () => {
    const target = await signIn({ email: 'deactivate@update.test' });
    const second = await browserOf(app, target.email);

    const result = await staff.client.request(UpdateUser, { id: String(target.id), input: { isActive: false } });
    expect(result.data?.updateUser).toMatchObject({ __typename: 'User', isActive: false });
    expect(await sessionCount(target.id)).toBe(0);
    expect(await loginOutcome(app.client(), target.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');

    await staff.client.request(UpdateUser, { id: String(target.id), input: { isActive: true } });
    expect(await meOf(target.client)).toBeNull();
    expect(await meOf(second)).toBeNull();
    expect(await loginOutcome(app.client(), target.email, TEST_PASSWORD)).toBe('User');
  });

  it('a demoted staff user loses staff access at once', async () => {
    const demoted = await signIn({ email: 'demoted@update.test', isStaff: true });
    expect((await demoted.client.request(UserById, { id: String(staff.id) })).data?.user).not.toBeNull();
    await staff.client.request(UpdateUser, { id: String(demoted.id), input: { isStaff: false } });
    expect(errorCode(await demoted.client.request(UserById, { id: String(staff.id) }))).toBe('FORBIDDEN');
  });

  describe('on the staff user’s own account', () => {
    let self: SignedInUser;

    beforeAll(async () => {
      self = await signIn({ email: 'self@update.test', isStaff: true });
    });

    it.each([
      [{ isStaff: false }, { isStaff: ['You cannot remove your own staff status.'] }],
      [{ isActive: false }, { isActive: ['You cannot deactivate your own account.'] }],
      [
        { isStaff: false, isActive: false, firstName: 'Changed' },
        { isStaff: ['You cannot remove your own staff status.'], isActive: ['You cannot deactivate your own account.'] },
      ],
    ])('refuses %j with a ValidationError', async (input, expected) => {
      const before = (await userRow(self.id))!;
      const result = await self.client.request(UpdateUser, { id: String(self.id), input });
      expect(fieldErrors(result.data?.updateUser)).toEqual(expected);
      expect(await userRow(self.id)).toEqual(before);
      expect(await meOf(self.client)).toMatchObject({ isStaff: true, isActive: true });
    });

    it('allows other changes', async () => {
      const result = await self.client.request(UpdateUser, { id: String(self.id), input: { lastName: 'Renamed', isStaff: true, isActive: true } });
      expect(result.data?.updateUser).toMatchObject({ __typename: 'User', lastName: 'Renamed', isStaff: true, isActive: true });
    });
  });
});

describe('deleteUser', () => {
  it('deletes the user, ends their sessions, and a second delete is NotFoundError', async () => {
    const target = await signIn({ email: 'delete-me@delete.test' });
    const second = await browserOf(app, target.email);
    expect(await sessionCount(target.id)).toBe(2);

    const result = await staff.client.request(DeleteUser, { id: String(target.id) });
    expect(result.errors).toBeUndefined();
    expect(result.data?.deleteUser).toEqual({ __typename: 'DeletedUser', id: String(target.id) });

    expect(await userRow(target.id)).toBeNull();
    expect(await sessionCount(target.id)).toBe(0);
    expect(await meOf(target.client)).toBeNull();
    expect(await meOf(second)).toBeNull();
    expect((await staff.client.request(UserById, { id: String(target.id) })).data?.user).toBeNull();
    expect(await loginOutcome(app.client(), target.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');

    const again = await staff.client.request(DeleteUser, { id: String(target.id) });
    expect(again.errors).toBeUndefined();
    expect(again.data?.deleteUser).toEqual(NOT_FOUND);
  });

  it.each(['999999', 'abc', '0'])('answers NotFoundError for the id %j', async (id) => {
    const result = await staff.client.request(DeleteUser, { id });
    expect(result.data?.deleteUser).toEqual(NOT_FOUND);
  });

  it('refuses to delete the signed-in staff user with FORBIDDEN', async () => {
    const self = await signIn({ email: 'self@delete.test', isStaff: true });
    const result = await self.client.request(DeleteUser, { id: String(self.id) });
    expect(result.data).toBeNull();
    expect(errorCode(result)).toBe('FORBIDDEN');
    expect(await userRow(self.id)).not.toBeNull();
    expect(await meOf(self.client)).toMatchObject({ email: self.email });
  });
});
