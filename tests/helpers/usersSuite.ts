// The set-up the staff administration tests (tests/users.*.test.ts) share: one app per file with a
// signed-in staff member, and the reads those tests check the database and the users query with.
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, expect } from 'vitest';
import type { UsersQueryVariables } from '../generated/graphql.ts';
import { Users } from '../operations/users.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './app.ts';

export const NEW_PASSWORD = 'Another-Strong-Passphrase-7';
export const NOT_FOUND = { __typename: 'NotFoundError', message: 'User not found.' };
export const EMAIL_TAKEN = ['A user with that email already exists.'];

export let app: TestApp;
export let staff: SignedInUser;

export interface SignedInUser {
  id: number;
  email: string;
  client: TestClient;
}

/** Starts the file's app and signs its staff member in (beforeAll), and stops it (afterAll). */
export function useUsersApp(): void {
  beforeAll(async () => {
    app = await startTestApp();
    staff = await signIn({ email: 'staff@admin.test', isStaff: true });
  });
  afterAll(() => app?.stop());
}

export async function signIn(fields: Parameters<TestApp['createUser']>[0]): Promise<SignedInUser> {
  const user = await app.createUser(fields);
  const client = app.client();
  await client.login(user.email, fields.password ?? TEST_PASSWORD);
  return { ...user, client };
}

export function errorCode(result: ExecutionResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

export function fieldErrors(payload: { __typename?: string; fieldErrors?: { field: string; messages: string[] }[] } | null | undefined) {
  expect(payload?.__typename).toBe('ValidationError');
  return Object.fromEntries((payload?.fieldErrors ?? []).map((error) => [error.field, error.messages]));
}

export async function sessionCount(userId: number): Promise<number> {
  return app.services.prisma.session.count({ where: { userId } });
}

export async function userRow(id: number) {
  return app.services.prisma.user.findUnique({ where: { id }, omit: { passwordHash: false } });
}

export async function databaseSnapshot() {
  const [users, sessions] = await Promise.all([
    app.services.prisma.user.findMany({ orderBy: { id: 'asc' }, omit: { passwordHash: false } }),
    app.services.prisma.session.findMany({ orderBy: { id: 'asc' }, select: { id: true, userId: true, data: true } }),
  ]);
  return { users, sessions };
}

export async function listUsers(variables: UsersQueryVariables) {
  const result = await staff.client.request(Users, variables);
  expect(result.errors).toBeUndefined();
  return result.data!.users;
}

export async function pageForward(variables: UsersQueryVariables, size: number) {
  const pages = [];
  let after: string | null = null;
  do {
    const page = await listUsers({ ...variables, first: size, after });
    pages.push(page);
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after !== null && pages.length < 100);
  return pages;
}

export async function pageBackward(variables: UsersQueryVariables, size: number) {
  const pages = [];
  let before: string | null = null;
  do {
    const page = await listUsers({ ...variables, last: size, before });
    pages.unshift(page);
    before = page.pageInfo.hasPreviousPage ? page.pageInfo.startCursor : null;
  } while (before !== null && pages.length < 100);
  return pages;
}

export function emailsOf(pages: { edges: { node: { email: string } }[] }[]): string[] {
  return pages.flatMap((page) => page.edges.map((edge) => edge.node.email));
}
