import { authenticate } from '../auth.ts';
import { InvalidCredentialsError, ValidationError } from '../errors.ts';
import { createUser, normalizeEmail, type PublicUser } from '../users.ts';
import { destroyCookieSession, startCookieSession } from '../userSessions.ts';
import type { Context } from '../context.ts';
import { builder } from './builder.ts';
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

/**
 * The sign-in shared by login and obtainTokens: rate limited, audited, and failing with
 * InvalidCredentialsError for every kind of wrong answer.
 */
export function signIn<T>(
  context: Context,
  input: { email: string; password: string },
  start: (user: PublicUser) => Promise<T>,
): Promise<T> {
  const email = normalizeEmail(input.email);
  return context.guard('login', { email }, async () => {
    const { user, accountId } = await authenticate(context, email, input.password);
    if (!user) {
      await context.record({ kind: 'LOGIN_FAILED', userId: accountId, actorId: null, email });
      throw new InvalidCredentialsError();
    }
    return start(user);
  });
}

/** Ends the cookie session of this request, if it has one, and tells the browser to forget it. */
export async function endCookieSession({ req, res, config }: Context): Promise<void> {
  if (!req.session?.userId) return;
  await destroyCookieSession(req);
  res.clearCookie(config.sessionCookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: config.production });
}

builder.mutationFields((t) => ({
  register: t.field({
    type: UserType,
    description: 'Creates an account. It does not sign the user in.',
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    errors: { types: [ValidationError], directResult: true, union: { name: 'RegisterResult' } },
    resolve: (_root, { input }, context) =>
      context.guard('register', {}, async () => {
        const user = await createUser(context, input);
        await context.record({ kind: 'REGISTERED', userId: user.id, email: user.email });
        return user;
      }),
  }),
  login: t.field({
    type: UserType,
    description: 'Checks the credentials and starts a cookie session.',
    args: { input: t.arg({ type: LoginInput, required: true }) },
    errors: { types: [InvalidCredentialsError], directResult: true, union: { name: 'LoginResult' } },
    resolve: (_root, { input }, context) =>
      signIn(context, input, async (user) => {
        await startCookieSession(context.req, user.id);
        await context.record({ kind: 'LOGIN_SUCCEEDED', userId: user.id, actorId: user.id, email: user.email });
        return user;
      }),
  }),
  logout: t.field({
    type: LogoutPayload,
    authScopes: { signedIn: true },
    description: 'Ends this session, or revokes the bearer token’s sign-in (its refresh tokens too).',
    resolve: async (_root, _args, context) => {
      if (context.credential?.kind === 'token') await context.tokens.revokeFamily(context.credential.familyId);
      else await endCookieSession(context);
      await context.record({ kind: 'LOGOUT', userId: context.userId });
      return LOGGED_OUT;
    },
  }),
}));
