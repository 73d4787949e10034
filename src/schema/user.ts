import { GraphQLError } from 'graphql';
import type { DatabaseProvider } from '../config.ts';
import type { Context } from '../context.ts';
import type { Prisma, User } from '../generated/prisma/client.ts';
import { mailVerificationLinkLater } from '../emailVerification.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { MAX_ROLES, ROLE_PATTERN, roleSet } from '../roles.ts';
import { createUser, deleteUser, parseUserId, updateUser } from '../users.ts';
import { builder } from './builder.ts';
import { badUserInput } from './errors.ts';
import { checkPage, countRows, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type CountCondition } from './pagination.ts';

const MAX_SEARCH_LENGTH = 254;

export const UserType = builder.prismaObject('User', {
  select: { id: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    firstName: t.exposeString('firstName'),
    lastName: t.exposeString('lastName'),
    isStaff: t.exposeBoolean('isStaff', { description: 'Staff members administer users.' }),
    isActive: t.exposeBoolean('isActive', { description: 'Inactive users cannot sign in.' }),
    dateJoined: t.expose('dateJoined', { type: 'DateTime' }),
    lastLogin: t.expose('lastLogin', { type: 'DateTime', nullable: true }),
    roles: t.field({
      type: ['String'],
      description: 'Names staff gave this user, sorted; they travel in the user’s access tokens. Staff see anyone’s, a user their own.',
      select: { roles: { select: { role: true } } },
      authScopes: (user, _args, context) => user.id === context.userId || { staff: true },
      resolve: async (user, _args, context) => {
        // `me` answers from the row read with the session, which holds no relations: read them here.
        const rows: { role: string }[] | undefined = user.roles;
        const roles = rows ?? (await context.prisma.userRole.findMany({ where: { userId: user.id }, select: { role: true } }));
        return roleSet(roles.map(({ role }) => role));
      },
    }),
    hasSecondFactor: t.boolean({
      description: 'Whether an authenticator app or a passkey is on. Staff see anyone’s, a user their own.',
      select: { hasSecondFactor: true },
      authScopes: (user, _args, context) => (user.id === context.userId ? true : { staff: true }),
      // A user row read without it (the session's, a sign-in's) has it looked up.
      resolve: async (user, _args, context) =>
        typeof user.hasSecondFactor === 'boolean'
          ? user.hasSecondFactor
          : (await context.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { hasSecondFactor: true } })).hasSecondFactor,
    }),
    emailVerified: t.exposeBoolean('emailVerified', {
      description: 'Whether the user proved they receive mail at this address (by opening a link mailed there), or staff vouched for it.',
    }),
  }),
});

const UserFilter = builder.inputType('UserFilter', {
  fields: (t) => ({
    search: t.string({ description: 'Case-insensitive substring of the email, first or last name.' }),
    isStaff: t.boolean(),
    isActive: t.boolean(),
    role: t.string({ description: 'Users who have this role.' }),
    hasSecondFactor: t.boolean({ description: 'Users with (true) or without (false) an authenticator app or passkey.' }),
    emailVerified: t.boolean(),
  }),
});

const UserOrderField = builder.enumType('UserOrderField', {
  values: { DATE_JOINED: { value: 'dateJoined' }, EMAIL: { value: 'email' }, LAST_LOGIN: { value: 'lastLogin' } } as const,
});

const OrderDirection = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

const UserOrderBy = builder.inputType('UserOrderBy', {
  fields: (t) => ({
    field: t.field({ type: UserOrderField, required: true }),
    direction: t.field({ type: OrderDirection, required: true }),
  }),
});

type UserFilterInput = typeof UserFilter.$inferInput;
type UserOrderByInput = typeof UserOrderBy.$inferInput;

/** A substring match that ignores case: SQLite's LIKE does for ASCII, PostgreSQL needs ILIKE. */
function containing(text: string, provider: DatabaseProvider): Prisma.StringFilter {
  return (provider === 'postgresql' ? { contains: text, mode: 'insensitive' } : { contains: text }) as Prisma.StringFilter;
}

/** The filter's search text, trimmed; undefined when there is none. */
function searchText(filter: UserFilterInput | null | undefined): string | undefined {
  const search = filter?.search?.trim();
  if (search && search.length > MAX_SEARCH_LENGTH) {
    throw badUserInput(`filter.search must be at most ${MAX_SEARCH_LENGTH} characters`);
  }
  return search || undefined;
}

/** The filter's role, checked like a role name (so the index on it serves every filter). */
function roleFilter(filter: UserFilterInput | null | undefined): string | undefined {
  const role = filter?.role;
  if (role == null) return undefined;
  if (!ROLE_PATTERN.test(role)) {
    throw badUserInput('filter.role must be a role name: a lower-case letter, then up to 63 lower-case letters, digits, or _ : . -');
  }
  return role;
}

function userWhere(filter: UserFilterInput | null | undefined, provider: DatabaseProvider): Prisma.UserWhereInput {
  const search = searchText(filter);
  const role = roleFilter(filter);
  return {
    isStaff: filter?.isStaff ?? undefined,
    isActive: filter?.isActive ?? undefined,
    ...(role ? { roles: { some: { role } } } : {}),
    hasSecondFactor: filter?.hasSecondFactor ?? undefined,
    emailVerified: filter?.emailVerified ?? undefined,
    ...(search
      ? {
          OR: [
            { email: containing(search.toLowerCase(), provider) },
            { firstName: containing(search, provider) },
            { lastName: containing(search, provider) },
          ],
        }
      : {}),
  };
}

/** `userWhere` as SQL for `countRows`: the same conditions, and LIKE patterns as Prisma's `contains` makes them. */
function userCountConditions(filter: UserFilterInput | null | undefined, provider: DatabaseProvider): CountCondition[] {
  const search = searchText(filter);
  const role = roleFilter(filter);
  const like = provider === 'postgresql' ? 'ILIKE' : 'LIKE';
  return [
    ...(filter?.isStaff != null ? [['"isStaff" = ?', filter.isStaff] as CountCondition] : []),
    ...(filter?.isActive != null ? [['"isActive" = ?', filter.isActive] as CountCondition] : []),
    ...(role ? [['"id" IN (SELECT "userId" FROM "UserRole" WHERE "role" = ?)', role] as CountCondition] : []),
    ...(filter?.emailVerified != null ? [['"emailVerified" = ?', filter.emailVerified] as CountCondition] : []),
    ...(search
      ? [[`("email" ${like} ? OR "firstName" ${like} ? OR "lastName" ${like} ?)`, `%${search.toLowerCase()}%`, `%${search}%`, `%${search}%`] as CountCondition]
      : []),
  ];
}

/**
 * Ties are broken by id so that pages are stable. Users who never logged in come first in
 * ascending order on every database (PostgreSQL would put nulls last, SQLite first).
 */
function userOrder(orderBy: UserOrderByInput | null | undefined): Prisma.UserOrderByWithRelationInput[] {
  const field = orderBy?.field ?? 'dateJoined';
  const direction = orderBy?.direction ?? 'asc';
  const primary =
    field === 'lastLogin' ? { lastLogin: { sort: direction, nulls: direction === 'asc' ? 'first' : 'last' } } : { [field]: direction };
  return [primary as Prisma.UserOrderByWithRelationInput, { id: direction }];
}

/**
 * Prisma turns a cursor into `(key = cursor's key AND id >= cursor) OR key > cursor's key`, which
 * no index serves: SQLite walked the (key, id) index from the start up to the cursor, 139 ms for a
 * page near the end of a million users against 1 ms for the first page. A bound on the sort key
 * alone, read from the cursor's row, lets the index start at the cursor (Prisma's condition still
 * settles ties), so every page costs the same. Rows read towards smaller keys may include null
 * lastLogins (they sort as the smallest), so those pages go unbounded.
 */
async function cursorBound(
  context: Context,
  query: { cursor?: { id?: unknown }; take?: number },
  orderBy: UserOrderByInput | null | undefined,
): Promise<Prisma.UserWhereInput> {
  const id = query.cursor?.id;
  if (typeof id !== 'number') return {};
  const field = orderBy?.field ?? 'dateJoined';
  // A negative take reads backwards from the cursor.
  const upwards = ((orderBy?.direction ?? 'asc') === 'asc') === ((query.take ?? 1) > 0);
  if (field === 'lastLogin' && !upwards) return {};
  const raw = (await context.directReads.get<{ key: string | Date | null }>(`SELECT "${field}" AS "key" FROM "User" WHERE "id" = ?`, id))?.key;
  // No such row: Prisma answers an empty page anyway.
  if (raw == null) return {};
  const key = field === 'email' ? raw : new Date(raw);
  return { [field]: upwards ? { gte: key } : { lte: key } };
}

function userIdOrNotFound(id: string): number {
  const userId = parseUserId(id);
  if (userId === null) throw new NotFoundError();
  return userId;
}

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    nullable: true,
    description: 'The signed-in user, or null for anonymous requests.',
    resolve: (query, _root, _args, context) =>
      context.userId === null
        ? null
        : context.sessionUser !== undefined
          ? // Read with the session at the start of this request: every column the type exposes (the
            // hash, omitted from every query anyway, is not among them).
            ((context.sessionUser?.isActive ? context.sessionUser : null) as User | null)
          : context.prisma.user.findFirst({ ...query, where: { id: context.userId, isActive: true } }),
  }),
  user: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { staff: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, context) => {
      const userId = parseUserId(id);
      return userId === null ? null : context.prisma.user.findUnique({ ...query, where: { id: userId } });
    },
  }),
  users: t.prismaConnection(
    {
      type: 'User',
      cursor: 'id',
      defaultSize: DEFAULT_PAGE_SIZE,
      maxSize: MAX_PAGE_SIZE,
      authScopes: { staff: true },
      args: {
        filter: t.arg({ type: UserFilter }),
        orderBy: t.arg({ type: UserOrderBy }),
      },
      resolve: async (query, _root, args, context) => {
        checkPage(args, query);
        const where = { ...userWhere(args.filter, context.config.databaseProvider), ...(await cursorBound(context, query, args.orderBy)) };
        return context.prisma.user.findMany({ ...query, where, orderBy: userOrder(args.orderBy) });
      },
      totalCount: (_connection, args, context) =>
        countRows(context.directReads, 'User', userCountConditions(args.filter, context.config.databaseProvider)),
    },
    { name: 'UserConnection' },
    { name: 'UserEdge' },
  ),
}));

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    firstName: t.string(),
    lastName: t.string(),
    isStaff: t.boolean(),
    isActive: t.boolean(),
    roles: t.stringList({ description: `Role names (${ROLE_PATTERN.source}), at most ${MAX_ROLES}.` }),
    emailVerified: t.boolean({ description: 'Staff vouch for the address; default false.' }),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: 'Omitted fields keep their value.',
  fields: (t) => ({
    email: t.string(),
    password: t.string(),
    firstName: t.string(),
    lastName: t.string(),
    isStaff: t.boolean(),
    isActive: t.boolean(),
    roles: t.stringList({ description: 'Replaces the user’s roles; they reach the user’s next access token.' }),
    emailVerified: t.boolean({ description: 'A new email is unverified unless this says otherwise.' }),
  }),
});

class DeletedUser {
  constructor(readonly id: number) {}
}

builder.objectType(DeletedUser, {
  name: 'DeletedUser',
  isTypeOf: (value) => value instanceof DeletedUser,
  fields: (t) => ({ id: t.exposeID('id') }),
});

builder.mutationFields((t) => ({
  createUser: t.field({
    type: UserType,
    authScopes: { staff: true },
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    errors: { types: [ValidationError], directResult: true, union: { name: 'CreateUserResult' } },
    resolve: async (_root, { input }, context) => {
      const user = await createUser(context, input);
      // Unless staff vouched for the address, its owner gets the same link a registration sends.
      if (!user.emailVerified) void mailVerificationLinkLater(context, user);
      await context.record({ kind: 'USER_CREATED', userId: user.id, email: user.email });
      return user;
    },
  }),
  updateUser: t.field({
    type: UserType,
    authScopes: { staff: true },
    description: 'Partial: omitted fields keep their value. A new password or deactivation ends the user’s sessions.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateUserInput, required: true }) },
    // Named so that resetSecondFactors shares this union (the errors plugin builds one per result name).
    errors: {
      types: [ValidationError, NotFoundError],
      directResult: true,
      union: { name: 'UpdateUserResult' },
      result: { name: 'UpdateUserResult' },
    },
    resolve: async (_root, { id, input }, context) => {
      const userId = userIdOrNotFound(id);
      if (userId === context.userId) {
        // Staff cannot lock themselves out; another staff member has to do it.
        ValidationError.check({
          isStaff: input.isStaff === false ? ['You cannot remove your own staff status.'] : [],
          isActive: input.isActive === false ? ['You cannot deactivate your own account.'] : [],
        });
      }
      const user = await updateUser(context, userId, input);
      if (!user) throw new NotFoundError();
      await context.record({ kind: 'USER_UPDATED', userId, email: user.email });
      return user;
    },
  }),
  deleteUser: t.field({
    type: DeletedUser,
    authScopes: { staff: true },
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotFoundError], directResult: true, union: { name: 'DeleteUserResult' } },
    resolve: async (_root, { id }, context) => {
      const userId = userIdOrNotFound(id);
      if (userId === context.userId) {
        throw new GraphQLError('You cannot delete your own account.', { extensions: { code: 'FORBIDDEN' } });
      }
      const email = await deleteUser(context, userId);
      if (email === null) throw new NotFoundError();
      await context.record({ kind: 'USER_DELETED', email });
      return new DeletedUser(userId);
    },
  }),
}));
