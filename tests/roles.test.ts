// Roles: names staff give users, shown to staff and to the user, filtered on, audited, and carried
// in the user's access tokens from the next one on.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import {
  CreateUserWithRoles,
  MyRoles,
  RoleAuditEvents,
  UpdateUserRoles,
  UserRolesById,
  UsersWithRole,
} from './operations/roles.ts';
import { RefreshTokenPair } from './operations/tokens.ts';
import { staffMember, tokenClient, tokenPairOf } from './helpers/actors.ts';

const ROLE_RULE = 'is not a valid role: a lower-case letter, then up to 63 lower-case letters, digits, or _ : . -';

let app: TestApp;
let staff: TestClient;
let staffId: string;
beforeAll(async () => {
  app = await startTestApp();
  staff = await staffMember(app, 'roles-admin@example.com');
  staffId = String((await app.services.prisma.user.findUniqueOrThrow({ where: { email: 'roles-admin@example.com' } })).id);
});
afterAll(() => app?.stop());

async function create(email: string, roles?: string[]) {
  const result = await staff.request(CreateUserWithRoles, { input: { email, password: TEST_PASSWORD, roles } });
  expect(result.errors).toBeUndefined();
  return result.data!.createUser;
}

async function createOk(email: string, roles?: string[]) {
  const created = await create(email, roles);
  if (created.__typename !== 'User') throw new Error(`createUser: ${JSON.stringify(created)}`);
  return created;
}

async function setRoles(id: string, roles: string[] | null, other: Record<string, unknown> = {}) {
  const result = await staff.request(UpdateUserRoles, { id, input: { ...other, roles } });
  expect(result.errors).toBeUndefined();
  return result.data!.updateUser;
}

async function storedRoles(id: string) {
  const rows = await app.services.prisma.userRole.findMany({ where: { userId: Number(id) }, select: { role: true } });
  return rows.map(({ role }) => role).sort();
}

describe('createUser and updateUser', () => {
  it('give roles as a set: each once, sorted', async () => {
    const user = await createOk('given@example.com', ['support', 'billing:read', 'support', 'a.b-c_d']);
    expect(user).toEqual({ __typename: 'User', id: user.id, email: 'given@example.com', isStaff: false, roles: ['a.b-c_d', 'billing:read', 'support'] });
    expect(await storedRoles(user.id)).toEqual(['a.b-c_d', 'billing:read', 'support']);
    expect((await createOk('none-given@example.com')).roles).toEqual([]);
    // By code point, whatever the database's collation makes of punctuation.
    expect((await createOk('collation@example.com', ['ab', 'a-z', 'a_b', 'a.b'])).roles).toEqual(['a-z', 'a.b', 'a_b', 'ab']);
  });

  it('updateUser replaces the set; an omitted or null roles keeps it; [] empties it', async () => {
    const { id } = await createOk('replaced@example.com', ['one', 'two']);
    expect(await setRoles(id, ['three', 'one'])).toMatchObject({ __typename: 'User', roles: ['one', 'three'] });
    expect(await storedRoles(id)).toEqual(['one', 'three']);
    const kept = await staff.request(UpdateUserRoles, { id, input: { firstName: 'Kept' } });
    expect(kept.data?.updateUser).toMatchObject({ roles: ['one', 'three'] });
    expect(await setRoles(id, null)).toMatchObject({ roles: ['one', 'three'] });
    expect(await setRoles(id, [])).toMatchObject({ roles: [] });
    expect(await storedRoles(id)).toEqual([]);
  });

  it('allows the longest name and the most roles, and no more', async () => {
    const longest = `r${'x'.repeat(63)}`;
    const twenty = Array.from({ length: 20 }, (_, i) => `role${String(i).padStart(2, '0')}`);
    const { id } = await createOk('limits@example.com', [longest]);
    expect(await setRoles(id, twenty)).toMatchObject({ roles: twenty });
    // Duplicates count once.
    expect(await setRoles(id, [...twenty, 'role00'])).toMatchObject({ roles: twenty });
    expect(await setRoles(id, [...twenty, 'role20'])).toEqual({
      __typename: 'ValidationError',
      message: 'Some fields are not valid.',
      fieldErrors: [{ field: 'roles', messages: ['Ensure this list has at most 20 roles.'] }],
    });
    expect(await storedRoles(id)).toEqual(twenty);
  });

  it.each([
    ['an upper-case letter', 'Admin'],
    ['a leading digit', '1st'],
    ['a leading separator', ':admin'],
    ['a space', 'read write'],
    ['a slash', 'a/b'],
    ['the empty string', ''],
    ['65 characters', `r${'x'.repeat(64)}`],
    ['a non-ASCII letter', 'rôle'],
  ])('refuses a role with %s as a ValidationError on roles, changing nothing', async (_case, role) => {
    const { id } = await createOk(`refused-${Math.random().toString(36).slice(2)}@example.com`, ['kept']);
    const quoted = JSON.stringify(role.length > 64 ? `${role.slice(0, 64)}…` : role);
    const expected = {
      __typename: 'ValidationError',
      message: 'Some fields are not valid.',
      fieldErrors: [{ field: 'roles', messages: [`${quoted} ${ROLE_RULE}`] }],
    };
    expect(await setRoles(id, ['fine', role])).toEqual(expected);
    expect(await storedRoles(id)).toEqual(['kept']);
    expect(await create('never-created@example.com', [role])).toEqual(expected);
    expect(await app.services.prisma.user.count({ where: { email: 'never-created@example.com' } })).toBe(0);
  });

  it('lists a bad role with the other fields’ problems at once, each bad role once', async () => {
    const result = await create('not-an-email', ['Bad', 'Bad', 'good', 'Worse']);
    expect(result).toEqual({
      __typename: 'ValidationError',
      message: 'Some fields are not valid.',
      fieldErrors: [
        { field: 'email', messages: ['Enter a valid email address.'] },
        { field: 'roles', messages: [`"Bad" ${ROLE_RULE}`, `"Worse" ${ROLE_RULE}`] },
      ],
    });
  });

  it('refuses a huge list with one message and a bounded answer', async () => {
    const { id } = await createOk('huge@example.com');
    const result = await setRoles(id, Array.from({ length: 5000 }, (_, i) => `Bad${i}`));
    expect(result).toEqual({
      __typename: 'ValidationError',
      message: 'Some fields are not valid.',
      fieldErrors: [{ field: 'roles', messages: ['Ensure this list has at most 20 roles.'] }],
    });
  });

  it('is staff-only, like the rest of updateUser', async () => {
    const { id } = await createOk('self-promoting@example.com', ['reader']);
    const user = app.client();
    await user.login('self-promoting@example.com', TEST_PASSWORD);
    const result = await user.request(UpdateUserRoles, { id, input: { roles: ['admin'] } });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await storedRoles(id)).toEqual(['reader']);
  });

  it('records USER_CREATED and USER_UPDATED, with the staff member as the actor', async () => {
    const { id } = await createOk('audited@example.com', ['first']);
    await setRoles(id, ['second']);
    const events = (await staff.request(RoleAuditEvents, { userId: id })).data!.authEvents.edges.map(({ node }) => node);
    expect(events).toEqual([
      { kind: 'USER_UPDATED', email: 'audited@example.com', actor: { id: staffId }, user: { id } },
      { kind: 'USER_CREATED', email: 'audited@example.com', actor: { id: staffId }, user: { id } },
    ]);
  });
});

describe('User.roles', () => {
  it('staff see anyone’s, through user(id) (and users: see the role filter)', async () => {
    const { id } = await createOk('visible@example.com', ['viewer']);
    expect((await staff.request(UserRolesById, { id })).data?.user).toMatchObject({ roles: ['viewer'] });
  });

  it('a user sees their own, with a cookie session or a token', async () => {
    await createOk('own@example.com', ['zeta', 'alpha']);
    const cookie = app.client();
    await cookie.login('own@example.com', TEST_PASSWORD);
    const byCookie = await cookie.request(MyRoles);
    expect(byCookie.errors).toBeUndefined();
    expect(byCookie.data?.me).toMatchObject({ email: 'own@example.com', roles: ['alpha', 'zeta'] });
    const pair = await tokenPairOf(app.client(), 'own@example.com');
    const byToken = await tokenClient(app, pair.accessToken).request(MyRoles);
    expect(byToken.errors).toBeUndefined();
    expect(byToken.data?.me?.roles).toEqual(['alpha', 'zeta']);
  });
});

describe('users(filter: { role })', () => {
  beforeAll(async () => {
    await createOk('filter-a@example.com', ['editor', 'viewer']);
    await createOk('filter-b@example.com', ['editor']);
    await createOk('filter-c@example.com', ['viewer']);
    const { id } = await createOk('filter-d@example.com', ['editor']);
    await staff.request(UpdateUserRoles, { id, input: { isActive: false } });
  });

  it('lists exactly the users with that role, with a matching totalCount', async () => {
    const result = await staff.request(UsersWithRole, { filter: { role: 'editor', search: 'filter-' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.users.totalCount).toBe(3);
    expect(result.data?.users.edges.map(({ node }) => [node.email, node.roles])).toEqual([
      ['filter-a@example.com', ['editor', 'viewer']],
      ['filter-b@example.com', ['editor']],
      ['filter-d@example.com', ['editor']],
    ]);
    const active = await staff.request(UsersWithRole, { filter: { role: 'editor', isActive: true, search: 'filter-' } });
    expect(active.data?.users.totalCount).toBe(2);
    expect(active.data?.users.edges.map(({ node }) => node.email)).toEqual(['filter-a@example.com', 'filter-b@example.com']);
    const nobody = await staff.request(UsersWithRole, { filter: { role: 'no-one-has-this' } });
    expect(nobody.data?.users).toMatchObject({ totalCount: 0, edges: [] });
  });

  it('pages through them', async () => {
    const first = await staff.request(UsersWithRole, { filter: { role: 'editor', search: 'filter-' }, first: 2 });
    expect(first.data?.users.pageInfo.hasNextPage).toBe(true);
    const second = await staff.request(UsersWithRole, { filter: { role: 'editor', search: 'filter-' }, first: 2, after: first.data!.users.pageInfo.endCursor });
    expect(second.data?.users.edges.map(({ node }) => node.email)).toEqual(['filter-d@example.com']);
    expect(second.data?.users.totalCount).toBe(3);
  });

  it.each(['Editor', '', 'x'.repeat(1000)])('refuses the role %j as BAD_USER_INPUT', async (role) => {
    const result = await staff.request(UsersWithRole, { filter: { role } });
    expect(result.data).toBeNull();
    expect(result.errors?.[0]).toMatchObject({
      message: 'filter.role must be a role name: a lower-case letter, then up to 63 lower-case letters, digits, or _ : . -',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });
});

describe('roles in access tokens', () => {
  it('a change reaches the user’s next access token; the current one keeps what it said', async () => {
    const { id } = await createOk('token-roles@example.com', ['reader']);
    const before = await tokenPairOf(app.client(), 'token-roles@example.com');
    expect(decodeJwt(before.accessToken)).toMatchObject({ roles: ['reader'], scope: 'role:reader' });

    await setRoles(id, ['writer', 'auditor'], { isStaff: true });
    expect(decodeJwt(before.accessToken)).toMatchObject({ roles: ['reader'], scope: 'role:reader' });

    const refreshed = await app.client().request(RefreshTokenPair, { refreshToken: before.refreshToken });
    if (refreshed.data?.refreshTokens.__typename !== 'TokenPair') throw new Error('refreshTokens failed');
    expect(decodeJwt(refreshed.data.refreshTokens.accessToken)).toMatchObject({
      roles: ['auditor', 'writer'],
      scope: 'staff role:auditor role:writer',
    });

    await setRoles(id, [], { isStaff: false });
    const again = await tokenPairOf(app.client(), 'token-roles@example.com');
    expect(decodeJwt(again.accessToken)).toMatchObject({ roles: [], scope: '' });
  });
});
