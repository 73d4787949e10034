import type { Request } from 'express';
import { authenticate } from '../auth.ts';
import { InvalidCredentialsError, ValidationError } from '../errors.ts';
import { createUser } from '../users.ts';
import { builder } from './builder.ts';
import { UserType } from './user.ts';

const MAX_USER_AGENT_LENGTH = 512;

const RegisterInput = builder.inputType('RegisterInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    firstName: t.string(),
    lastName: t.string(),
  }),
});

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

const LogoutPayload = builder.objectRef<{ message: string }>('LogoutPayload').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

function promisify(run: (done: (error?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((error) => (error ? reject(error) : resolve())));
}

/** Starts a signed-in session under a new id, so a session id planted before login is useless. */
async function startSession(req: Request, userId: number): Promise<void> {
  await promisify((done) => req.session.regenerate(done));
  req.session.userId = userId;
  req.session.userAgent = req.get('user-agent')?.slice(0, MAX_USER_AGENT_LENGTH) ?? null;
  req.session.ipAddress = req.ip ?? null;
  await promisify((done) => req.session.save(done));
}

builder.mutationFields((t) => ({
  register: t.field({
    type: UserType,
    description: 'Creates an account. It does not sign the user in.',
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    errors: { types: [ValidationError], directResult: true, union: { name: 'RegisterResult' } },
    resolve: (_root, { input }, context) => createUser(context, input),
  }),
  login: t.field({
    type: UserType,
    description: 'Checks the credentials and starts a cookie session.',
    args: { input: t.arg({ type: LoginInput, required: true }) },
    errors: { types: [InvalidCredentialsError], directResult: true, union: { name: 'LoginResult' } },
    resolve: async (_root, { input }, context) => {
      const user = await authenticate(context, input.email, input.password);
      if (!user) throw new InvalidCredentialsError();
      await startSession(context.req, user.id);
      return user;
    },
  }),
  logout: t.field({
    type: LogoutPayload,
    authScopes: { signedIn: true },
    description: 'Ends this session.',
    resolve: async (_root, _args, context) => {
      const { req, res, config } = context;
      await promisify((done) => req.session.destroy(done));
      res.clearCookie(config.sessionCookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: config.production });
      return { message: 'Successfully logged out' };
    },
  }),
}));
