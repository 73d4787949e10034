import { GraphQLError } from 'graphql';
import type { User } from '../generated/prisma/client.ts';
import { mailVerificationLinkLater } from '../emailVerification.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { MAX_ROLES, ROLE_PATTERN, roleSet } from '../roles.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../pages.ts';
import { countUsers, findUsers } from '../userDirectory.ts';
import { createUser, deleteUser, parseUserId, updateUser } from '../users.ts';
import { publicUserColumns, readUser } from '../userRows.ts';
import { builder } from './builder.ts';
import { badUserInputFor } from './errors.ts';
import { checkPage } from './pagination.ts';

// Every read of a user selects the public columns, so their fields are plain reads of the row: a
// field with a `select` of its own (as `t.expose*` gives each one here) costs a selection lookup
// for every row and field.
export const UserType = builder.prismaObject('User', {
  select: publicUserColumns,
  fields: (t) => ({
    id: t.id({ resolve: (user) => user.id }),
    email: t.string({ resolve: (user) => user.email }),
    firstName: t.string({ resolve: (user) => user.firstName }),
    lastName: t.string({ resolve: (user) => user.lastName }),
    isStaff: t.boolean({ description: 'Staff members administer users.', resolve: (user) => user.isStaff }),
    isActive: t.boolean({ description: 'Inactive users cannot sign in.', resolve: (user) => user.isActive }),
    dateJoined: t.field({ type: 'DateTime', resolve: (user) => user.dateJoined }),
    lastLogin: t.field({ type: 'DateTime', nullable: true, resolve: (user) => user.lastLogin }),
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
    emailVerified: t.boolean({
      description: 'Whether the user proved they receive mail at this address (by opening a link mailed there), or staff vouched for it.',
      resolve: (user) => user.emailVerified,
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
    // Every column the type exposes but its relations, which their fields read when asked for.
    resolve: async (_query, _root, { id }, context) => {
      const userId = parseUserId(id);
      return userId === null ? null : ((await readUser(context.directReads, userId)) as User | null);
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
      resolve: (query, _root, args, context) => badUserInputFor(findUsers(context, args.filter, args.orderBy, checkPage(args, query))),
      totalCount: (_connection, args, context) => badUserInputFor(countUsers(context, args.filter)),
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
      const user = await updateUser(context, userId, input, context.userId);
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
      const deletion = await deleteUser(context, userId, context.userId);
      if (deletion.kind === 'self') throw new GraphQLError('You cannot delete your own account.', { extensions: { code: 'FORBIDDEN' } });
      if (deletion.kind === 'notFound') throw new NotFoundError();
      await context.record({ kind: 'USER_DELETED', email: deletion.email });
      return new DeletedUser(userId);
    },
  }),
}));
