import { EmailNotVerifiedError, InvalidCredentialsError, ValidationError } from '../errors.ts';
import { mailVerificationLinkLater } from '../emailVerification.ts';
import { createUser } from '../users.ts';
import type { Context } from '../context.ts';
import { builder } from './builder.ts';
import { passwordSignIn, SecondFactorRequired } from './signIn.ts';
import { UserType } from './user.ts';

const RegisterInput = builder.inputType('RegisterInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    firstName: t.string(),
    lastName: t.string(),
  }),
});

export const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

export const LogoutPayload = builder.objectRef<{ message: string }>('LogoutPayload').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

export const LOGGED_OUT = { message: 'Successfully logged out' };

builder.mutationFields((t) => ({
  register: t.field({
    type: UserType,
    description: 'Creates an account. It does not sign the user in.',
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    errors: { types: [ValidationError], directResult: true, union: { name: 'RegisterResult' } },
    resolve: (_root, { input }, context) =>
      context.guard('register', {}, async () => {
        const user = await createUser(context, input);
        void mailVerificationLinkLater(context, user);
        await context.record({ kind: 'REGISTERED', userId: user.id, email: user.email });
        return user;
      }),
  }),
  login: t.field({
    type: UserType,
    description: 'Checks the credentials and starts a cookie session, or asks for the second factor first.',
    args: { input: t.arg({ type: LoginInput, required: true }) },
    errors: { types: [InvalidCredentialsError, SecondFactorRequired, EmailNotVerifiedError], directResult: true, union: { name: 'LoginResult' } },
    resolve: (_root, { input }, context) => passwordSignIn(context, input, 'cookie'),
  }),
  logout: t.field({
    type: LogoutPayload,
    authScopes: { signedIn: true },
    description: 'Ends this session, or revokes the bearer token’s sign-in (its refresh tokens too).',
    resolve: async (_root, _args, context) => {
      if (context.credential?.kind === 'token') await context.tokens.revokeFamily(context.credential.familyId);
      else await context.cookieSession.end();
      await context.record({ kind: 'LOGOUT', userId: context.userId });
      return LOGGED_OUT;
    },
  }),
}));
