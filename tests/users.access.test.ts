// Who may use the staff operations, and what no response ever shows.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD, type TestClient } from './helpers/app.ts';
import { meOf } from './helpers/actors.ts';
import { app, databaseSnapshot, errorCode, NEW_PASSWORD, type SignedInUser, signIn, staff, useUsersApp } from './helpers/usersSuite.ts';
import { Login, Me, Register } from './operations/auth.ts';
import { CreateUser, DeleteUser, UpdateUser, UserById, Users } from './operations/users.ts';

useUsersApp();

describe('access control', () => {
  let member: SignedInUser;
  let target: { id: number; email: string };

  beforeAll(async () => {
    member = await signIn({ email: 'member@access.test' });
    target = await app.createUser({ email: 'target@access.test', firstName: 'Target' });
  });

  const requests = {
    user: (client: TestClient) => client.request(UserById, { id: String(target.id) }),
    users: (client: TestClient) => client.request(Users, { first: 1 }),
    createUser: (client: TestClient) =>
      client.request(CreateUser, { input: { email: 'refused@access.test', password: TEST_PASSWORD, isStaff: true } }),
    updateUser: (client: TestClient) =>
      client.request(UpdateUser, { id: String(target.id), input: { firstName: 'Changed', isStaff: true, password: NEW_PASSWORD } }),
    deleteUser: (client: TestClient) => client.request(DeleteUser, { id: String(target.id) }),
  } as const;

  describe.each([
    ['an anonymous client', () => app.client(), 'UNAUTHENTICATED'],
    ['a signed-in non-staff user', () => member.client, 'FORBIDDEN'],
  ])('%s', (_who, client, code) => {
    it.each(Object.keys(requests) as (keyof typeof requests)[])(`is refused %s with ${code} and changes nothing`, async (field) => {
      const before = await databaseSnapshot();
      const result = await requests[field](client());
      expect(result.errors).toHaveLength(1);
      expect(errorCode(result)).toBe(code);
      expect(result.errors![0]!.path).toEqual([field]);
      expect((result.data as Record<string, unknown> | null | undefined)?.[field] ?? null).toBeNull();
      expect(await databaseSnapshot()).toEqual(before);
    });
  });

  it('lets the same non-staff user read their own account through me', async () => {
    expect(await meOf(member.client)).toMatchObject({ id: String(member.id), isStaff: false });
  });
});

describe('password hashes', () => {
  async function recordedRequest<TData, TVariables>(
    texts: string[],
    client: TestClient,
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): Promise<ExecutionResult<TData>> {
    const response = await client.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const text = await response.text();
    texts.push(text);
    return JSON.parse(text);
  }

  it('never appear in any response', async () => {
    const texts: string[] = [];
    const client = app.client();
    const registered = await recordedRequest(texts, client, Register, {
      input: { email: 'leak@hash.test', password: TEST_PASSWORD, firstName: 'Leak', lastName: 'Check' },
    });
    expect(registered.data?.register).toMatchObject({ __typename: 'User' });
    const loggedIn = await recordedRequest(texts, client, Login, { input: { email: 'leak@hash.test', password: TEST_PASSWORD } });
    expect(loggedIn.data?.login).toMatchObject({ __typename: 'User' });
    expect((await recordedRequest(texts, client, Me)).data?.me).toMatchObject({ email: 'leak@hash.test' });

    const admin = app.client();
    expect((await recordedRequest(texts, admin, Login, { input: { email: staff.email, password: TEST_PASSWORD } })).data?.login).toMatchObject({
      __typename: 'User',
    });
    const listed = await recordedRequest(texts, admin, Users, { first: 100 });
    expect(listed.data?.users.edges.length).toBeGreaterThan(1);
    const id = (registered.data!.register as { id: string }).id;
    expect((await recordedRequest(texts, admin, UserById, { id })).data?.user).toMatchObject({ email: 'leak@hash.test' });
    const created = await recordedRequest(texts, admin, CreateUser, { input: { email: 'created@hash.test', password: TEST_PASSWORD } });
    expect(created.data?.createUser).toMatchObject({ __typename: 'User' });
    const updated = await recordedRequest(texts, admin, UpdateUser, { id, input: { password: NEW_PASSWORD, firstName: 'Updated' } });
    expect(updated.data?.updateUser).toMatchObject({ __typename: 'User', firstName: 'Updated' });

    const stored = await app.services.prisma.user.findUniqueOrThrow({ where: { email: 'leak@hash.test' }, select: { passwordHash: true } });
    expect(stored.passwordHash).toMatch(/^\$2[ab]\$/);
    expect(texts).toHaveLength(8);
    for (const text of texts) {
      expect(text).not.toContain('$2a$');
      expect(text).not.toContain('$2b$');
      expect(text).not.toContain(stored.passwordHash.slice(7));
      expect(text.toLowerCase()).not.toContain('passwordhash');
    }
  });

  it.each([
    ['staff', () => staff.client],
    ['anonymous', () => app.client()],
  ])('cannot be queried by name, even by %s', async (_who, client) => {
    const result = await client().raw('{ users { edges { node { passwordHash } } } }');
    expect(result.data).toBeUndefined();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toMatch(/Cannot query field "passwordHash" on type "User"/);
  });
});
