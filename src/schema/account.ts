import { changePassword } from '../auth.ts';
import { InvalidCredentialsError, ValidationError } from '../errors.ts';
import { updateProfile } from '../users.ts';
import { endAllSessions, listSessions, revokeSession, type UserSession } from '../sessions.ts';
import { builder } from './builder.ts';
import { LOGGED_OUT, LogoutPayload } from './auth.ts';
import { UserType } from './user.ts';

const SessionType = builder.objectRef<UserSession>('Session').implement({
  description: 'A signed-in browser (cookie session) or app (token sign-in) of the user.',
  fields: (t) => ({
    id: t.exposeID('id'),
    current: t.exposeBoolean('current', { description: 'Whether this request is made with this session.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    ipAddress: t.exposeString('ipAddress', { nullable: true }),
  }),
});

const UpdateMeInput = builder.inputType('UpdateMeInput', {
  description: 'Omitted fields keep their value.',
  fields: (t) => ({ firstName: t.string(), lastName: t.string() }),
});

const ChangePasswordInput = builder.inputType('ChangePasswordInput', {
  fields: (t) => ({
    currentPassword: t.string({ required: true }),
    newPassword: t.string({ required: true }),
  }),
});

builder.queryFields((t) => ({
  mySessions: t.field({
    type: [SessionType],
    authScopes: { signedIn: true },
    description: 'Every live session of the signed-in user, most recently used first.',
    resolve: (_root, _args, { prisma, userId, credential }) => listSessions(prisma, userId!, credential),
  }),
}));

builder.mutationFields((t) => ({
  updateMe: t.field({
    type: UserType,
    authScopes: { signedIn: true },
    description: 'Changes the signed-in user’s names; staff status and activity are not theirs to change.',
    args: { input: t.arg({ type: UpdateMeInput, required: true }) },
    errors: { types: [ValidationError], directResult: true, union: { name: 'UpdateMeResult' } },
    resolve: (_root, { input }, context) => updateProfile(context, context.userId!, input),
  }),
  changePassword: t.field({
    type: UserType,
    authScopes: { signedIn: true },
    description: 'Keeps this session (under a new id) and ends every other session and refresh token.',
    args: { input: t.arg({ type: ChangePasswordInput, required: true }) },
    errors: {
      types: [InvalidCredentialsError, ValidationError],
      directResult: true,
      union: { name: 'ChangePasswordResult' },
    },
    resolve: (_root, { input }, context) =>
      context.guard('changePassword', {}, async () => {
        const user = await changePassword(context, context.userId!, input, context.credential);
        if (context.credential?.kind === 'cookie') await context.cookieSession.start(user.id);
        await context.record({ kind: 'PASSWORD_CHANGED', userId: user.id });
        return user;
      }),
  }),
  revokeSession: t.boolean({
    authScopes: { signedIn: true },
    description: 'Ends one of the signed-in user’s sessions; false when they have no session with this id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => {
      const revoked = await revokeSession(context.prisma, context.userId!, String(id));
      if (revoked) await context.record({ kind: 'SESSION_REVOKED', userId: context.userId });
      return revoked;
    },
  }),
  logoutEverywhere: t.field({
    type: LogoutPayload,
    authScopes: { signedIn: true },
    description: 'Ends every session and refresh token of the signed-in user, this one included.',
    resolve: async (_root, _args, context) => {
      await endAllSessions(context.prisma, context.userId!);
      await context.cookieSession.end();
      await context.record({ kind: 'LOGOUT', userId: context.userId });
      return LOGGED_OUT;
    },
  }),
}));
