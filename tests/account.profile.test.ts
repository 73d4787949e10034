// updateMe: the signed-in user’s own names.
import { describe, expect, it } from 'vitest';
import { meOf } from './helpers/actors.ts';
import { cookieClient, describeNoPasswordHashes, newUser, storedUser, tokenSignIn, useAccountApp } from './helpers/accountSuite.ts';
import { UpdateMe } from './operations/account.ts';

useAccountApp();

describe('updateMe', () => {
  it('changes both names, trimmed, and returns the user', async () => {
    const user = await newUser('names', { firstName: 'Old', lastName: 'Name' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { firstName: '  Ada ', lastName: '\tLovelace  ' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.updateMe).toEqual({
      __typename: 'User',
      id: expect.any(String),
      email: user.email,
      firstName: 'Ada',
      lastName: 'Lovelace',
      isStaff: false,
      isActive: true,
      emailVerified: false,
      dateJoined: expect.any(String),
      lastLogin: expect.any(String),
    });
    expect(await meOf(signedIn)).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
  });

  it('is partial: an omitted name keeps its value', async () => {
    const user = await newUser('partial', { firstName: 'Grace', lastName: 'Murray' });
    const signedIn = await cookieClient(user.email);
    const last = await signedIn.request(UpdateMe, { input: { lastName: 'Hopper' } });
    expect(last.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'Grace', lastName: 'Hopper' });
    const first = await signedIn.request(UpdateMe, { input: { firstName: 'G.' } });
    expect(first.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'G.', lastName: 'Hopper' });
    const none = await signedIn.request(UpdateMe, { input: {} });
    expect(none.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'G.', lastName: 'Hopper' });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'G.', lastName: 'Hopper' });
  });

  it('works through a bearer token too', async () => {
    const user = await newUser('bearer-names');
    const { bearer } = await tokenSignIn(user.email);
    const result = await bearer.request(UpdateMe, { input: { firstName: 'Token' } });
    expect(result.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'Token' });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'Token' });
  });

  it('accepts 150 characters after trimming', async () => {
    const user = await newUser('long-ok');
    const signedIn = await cookieClient(user.email);
    const name = 'n'.repeat(150);
    const result = await signedIn.request(UpdateMe, { input: { firstName: ` ${name} ` } });
    expect(result.data?.updateMe).toMatchObject({ __typename: 'User', firstName: name });
  });

  it('counts characters, not UTF-16 code units, against the 150 limit', async () => {
    const user = await newUser('long-astral', { firstName: 'Before' });
    const signedIn = await cookieClient(user.email);
    const name = '𠮷'.repeat(150);
    const accepted = await signedIn.request(UpdateMe, { input: { firstName: name } });
    expect(accepted.data?.updateMe).toMatchObject({ __typename: 'User', firstName: name });
    const refused = await signedIn.request(UpdateMe, { input: { firstName: `${name}𠮷` } });
    expect(refused.data?.updateMe).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'firstName', messages: ['Ensure this value has at most 150 characters.'] }],
    });
  });

  it('refuses a first name over 150 characters on field firstName and changes nothing', async () => {
    const user = await newUser('long-first', { firstName: 'Keep', lastName: 'Me' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { firstName: 'f'.repeat(151), lastName: 'Changed' } });
    expect(result.data?.updateMe).toEqual({
      __typename: 'ValidationError',
      message: expect.any(String),
      fieldErrors: [{ field: 'firstName', messages: ['Ensure this value has at most 150 characters.'] }],
    });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'Keep', lastName: 'Me' });
  });

  it('refuses a last name over 150 characters on field lastName', async () => {
    const user = await newUser('long-last', { lastName: 'Kept' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { lastName: 'l'.repeat(151) } });
    expect(result.data?.updateMe).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'lastName', messages: ['Ensure this value has at most 150 characters.'] }],
    });
    expect(await storedUser(user.id)).toMatchObject({ lastName: 'Kept' });
  });

  it('reports both names at once when both are too long', async () => {
    const user = await newUser('long-both', { firstName: 'A', lastName: 'B' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { firstName: 'f'.repeat(200), lastName: 'l'.repeat(151) } });
    const updateMe = result.data?.updateMe;
    expect(updateMe?.__typename).toBe('ValidationError');
    const fieldErrors = updateMe?.__typename === 'ValidationError' ? updateMe.fieldErrors : [];
    expect(Object.fromEntries(fieldErrors.map((error) => [error.field, error.messages]))).toEqual({
      firstName: ['Ensure this value has at most 150 characters.'],
      lastName: ['Ensure this value has at most 150 characters.'],
    });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'A', lastName: 'B' });
  });

  it.each([
    ['isStaff', 'true'],
    ['isActive', 'false'],
  ])('rejects %s in the input as a document and as a variable, leaving the row unchanged', async (field, value) => {
    const user = await newUser(`self-${field}`, { firstName: 'Same' });
    const signedIn = await cookieClient(user.email);
    const before = await storedUser(user.id);

    const inline = await signedIn.raw(`mutation { updateMe(input: { firstName: "Changed", ${field}: ${value} }) { __typename } }`);
    expect(inline.data).toBeUndefined();
    expect(inline.errors?.[0]?.message).toContain(field);

    const variables = await signedIn.raw(
      'mutation AccountUpdateMeRaw($input: UpdateMeInput!) { updateMe(input: $input) { __typename } }',
      { input: { firstName: 'Changed', [field]: JSON.parse(value) } },
    );
    expect(variables.data).toBeUndefined();
    expect(variables.errors?.[0]?.message).toContain(field);

    expect(await storedUser(user.id)).toEqual(before);
    expect(before).toMatchObject({ isStaff: false, isActive: true, firstName: 'Same' });
  });
});

describeNoPasswordHashes();
