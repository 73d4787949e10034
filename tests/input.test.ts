import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueEmailToken } from '../src/emailTokens.ts';
import { startTestApp, TEST_PASSWORD, type GraphQLResponse, type TestApp, type TestClient } from './helpers/app.ts';
import { staffMember } from './helpers/actors.ts';
import { capturingLogger } from './helpers/logs.ts';
import { probeHealth } from './helpers/probe.ts';
import { ChangePassword, UpdateMe } from './operations/account.ts';
import { Login, Register } from './operations/auth.ts';
import { RequestPasswordReset, ResetPassword } from './operations/passwordReset.ts';
import { ObtainTokenPair } from './operations/tokens.ts';
import { CreateUser, UpdateUser, Users } from './operations/users.ts';

const logs = capturingLogger('info');
let app: TestApp;
let staff: TestClient;
beforeAll(async () => {
  app = await startTestApp({ LOG_LEVEL: 'info' }, { logger: logs.logger });
  staff = await staffMember(app, 'input-staff@example.com');
  // Compiles the code paths once, so the timings below measure the checks, not the first run.
  await app.client().request(Register, { input: { email: 'warm-up@example.com', password: 'short', firstName: 'W' } });
});
afterAll(() => app?.stop());

/** Runs a request while a thread of the test asks for /health; how long each took, in ms. */
async function timed<T>(request: () => Promise<T>): Promise<{ result: T; ms: number; slowestHealthMs: number; probes: number }> {
  const probe = probeHealth(app.url);
  await probe.ready;
  const started = performance.now();
  const result = await request();
  const ms = performance.now() - started;
  const latencies = await probe.stop();
  return { result, ms, slowestHealthMs: Math.max(...latencies), probes: latencies.length };
}

describe('a request with over-long text answers at once and does not hold up the process', () => {
  // The longest password bcrypt takes, and text close to the 100 KB body cap made of the same
  // characters in reverse: the costliest input for the quadratic similarity check.
  const password = 'Abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2);
  const reversed = [...password.toLowerCase()].reverse().join('');
  const long = reversed.repeat(Math.ceil(95_000 / reversed.length)).slice(0, 95_000);
  const NAME_TOO_LONG = ['Ensure this value has at most 150 characters.'];
  const EMAIL_TOO_LONG = ['Ensure this value has at most 254 characters.'];
  // Generous against a loaded machine (changePassword includes a bcrypt check; /health takes
  // 10-80 ms on an idle one): the unbounded similarity check held the event loop for 5 s and more.
  const ANSWER_MS = 2000;
  const HEALTH_MS = 500;

  async function expectQuick<T>(request: () => Promise<T>): Promise<T> {
    const { result, ms, slowestHealthMs, probes } = await timed(request);
    expect(ms).toBeLessThan(ANSWER_MS);
    expect(probes).toBeGreaterThan(0);
    expect(slowestHealthMs).toBeLessThan(HEALTH_MS);
    return result;
  }

  it.each([
    ['firstName', { firstName: long }, NAME_TOO_LONG],
    ['lastName', { lastName: long }, NAME_TOO_LONG],
  ])('register with a 95,000-character %s', async (field, names, messages) => {
    const result = await expectQuick(() =>
      app.client().request(Register, { input: { email: 'long-name@example.com', password, ...names } }),
    );
    expect(result.data?.register).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field, messages }] });
  });

  it('register with a 95 KB email', async () => {
    const result = await expectQuick(() => app.client().request(Register, { input: { email: `${long}@example.com`, password } }));
    expect(result.data?.register).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'email', messages: EMAIL_TOO_LONG }] });
  });

  it('createUser with a 95,000-character first name', async () => {
    const result = await expectQuick(() =>
      staff.request(CreateUser, { input: { email: 'created-long@example.com', password, firstName: long } }),
    );
    expect(result.data?.createUser).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'firstName', messages: NAME_TOO_LONG }] });
  });

  it('createUser with a 95 KB email', async () => {
    const result = await expectQuick(() => staff.request(CreateUser, { input: { email: `${long}@example.com`, password } }));
    expect(result.data?.createUser).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'email', messages: EMAIL_TOO_LONG }] });
  });

  it('updateUser with a new password and a 95,000-character last name', async () => {
    const { id } = await app.createUser({ email: 'updated-long@example.com' });
    const result = await expectQuick(() => staff.request(UpdateUser, { id: String(id), input: { password, lastName: long } }));
    expect(result.data?.updateUser).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'lastName', messages: NAME_TOO_LONG }] });
  });

  it('changePassword to a 95 KB password', async () => {
    const client = await app.signedIn({ email: 'change-long@example.com' });
    const result = await expectQuick(() =>
      client.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: long } }),
    );
    expect(result.data?.changePassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['This password is too long. It must be at most 72 bytes.'] }],
    });
  });

  it('resetPassword to a 95 KB password', async () => {
    const { id: userId } = await app.createUser({ email: 'reset-long@example.com' });
    const token = await issueEmailToken(app.services.prisma, { userId, purpose: 'PASSWORD_RESET', email: 'reset-long@example.com' });
    const result = await expectQuick(() => app.client().request(ResetPassword, { input: { token, newPassword: long } }));
    expect(result.data?.resetPassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['This password is too long. It must be at most 72 bytes.'] }],
    });
  });

  it('updateMe with 95,000-character names', async () => {
    const client = await app.signedIn({ email: 'me-long@example.com' });
    const result = await expectQuick(() => client.request(UpdateMe, { input: { firstName: long, lastName: `${long.slice(0, 4000)}` } }));
    expect(result.data?.updateMe).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [
        { field: 'firstName', messages: NAME_TOO_LONG },
        { field: 'lastName', messages: NAME_TOO_LONG },
      ],
    });
  });
});

describe('strings that are not text', () => {
  // JSON carries both as escapes: a lone UTF-16 surrogate, which is no Unicode character, and
  // U+0000, which PostgreSQL cannot store in text.
  const cases = [
    ['a lone surrogate', 'a\ud800b', 'Enter valid text: this value contains an unpaired surrogate, which is not a Unicode character.'],
    ['a NUL character', 'a\u0000b', 'Null characters are not allowed.'],
  ] as const;

  function expectInvalid(
    result: GraphQLResponse<Record<string, unknown>>,
    field: string,
    fieldErrors: { field: string; messages: string[] }[],
  ) {
    expect(result.errors).toBeUndefined();
    expect(result.data?.[field]).toEqual({ __typename: 'ValidationError', message: 'Some fields are not valid.', fieldErrors });
  }

  function expectBadUserInput(result: GraphQLResponse<unknown>, message: string) {
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
    expect(result.status).toBe(200);
  }

  describe.each(cases)('with %s', (_name, bad, message) => {
    const tag = bad.includes('\u0000') ? 'nul' : 'surrogate';

    it('register: a ValidationError on each such field, and no account', async () => {
      const result = await app.client().request(Register, {
        input: { email: `reg-${tag}${bad}@example.com`, password: `Pass${bad}word-123`, firstName: bad, lastName: 'Fine' },
      });
      expectInvalid(result, 'register', [
        { field: 'email', messages: [message] },
        { field: 'firstName', messages: [message] },
        { field: 'password', messages: [message] },
      ]);
      expect(await app.services.prisma.user.count({ where: { email: { startsWith: `reg-${tag}` } } })).toBe(0);
    });

    it('createUser and updateUser: a ValidationError on the field', async () => {
      expectInvalid(await staff.request(CreateUser, { input: { email: `new-${tag}@example.com`, password: TEST_PASSWORD, lastName: bad } }), 'createUser', [
        { field: 'lastName', messages: [message] },
      ]);
      const { id } = await app.createUser({ email: `updated-${tag}@example.com` });
      expectInvalid(await staff.request(UpdateUser, { id: String(id), input: { email: `x${bad}@example.com` } }), 'updateUser', [
        { field: 'email', messages: [message] },
      ]);
      expectInvalid(await staff.request(UpdateUser, { id: String(id), input: { password: `${TEST_PASSWORD}${bad}` } }), 'updateUser', [
        { field: 'password', messages: [message] },
      ]);
      expect(await app.services.prisma.user.findUnique({ where: { id }, select: { email: true } })).toEqual({ email: `updated-${tag}@example.com` });
    });

    it('updateMe, changePassword and resetPassword: a ValidationError on the field', async () => {
      const client = await app.signedIn({ email: `me-${tag}@example.com` });
      expectInvalid(await client.request(UpdateMe, { input: { firstName: bad } }), 'updateMe', [{ field: 'firstName', messages: [message] }]);
      expectInvalid(
        await client.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: `${TEST_PASSWORD}${bad}` } }),
        'changePassword',
        [{ field: 'newPassword', messages: [message] }],
      );
      expectInvalid(await app.client().request(ResetPassword, { input: { token: bad, newPassword: TEST_PASSWORD } }), 'resetPassword', [
        { field: 'token', messages: [message] },
      ]);
    });

    it('login, obtainTokens and requestPasswordReset, whose results have no ValidationError: BAD_USER_INPUT', async () => {
      const email = `login-${tag}${bad}@example.com`;
      expectBadUserInput(await app.client().request(Login, { input: { email, password: TEST_PASSWORD } }), `input.email: ${message}`);
      expectBadUserInput(await app.client().request(Login, { input: { email: 'a@example.com', password: bad } }), `input.password: ${message}`);
      expectBadUserInput(await app.client().request(ObtainTokenPair, { input: { email, password: TEST_PASSWORD } }), `input.email: ${message}`);
      expectBadUserInput(await app.client().request(RequestPasswordReset, { email }), `email: ${message}`);
    });

    it('other arguments: BAD_USER_INPUT', async () => {
      expectBadUserInput(await staff.request(Users, { filter: { search: bad } }), `filter.search: ${message}`);
      expectBadUserInput(await staff.raw('query($id: ID!) { user(id: $id) { id } }', { id: bad }), `id: ${message}`);
      expectBadUserInput(await staff.raw('mutation($id: ID!) { revokeSession(id: $id) }', { id: bad }), `id: ${message}`);
      expectBadUserInput(
        await app.client().raw('mutation($token: String!) { refreshTokens(refreshToken: $token) { __typename } }', { token: bad }),
        `refreshToken: ${message}`,
      );
    });
  });

  it('still refuses the anonymous and non-staff before looking at the text', async () => {
    const result = await app.client().request(Users, { filter: { search: 'a\ud800' } });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('accepts text that only looks odd: paired surrogates (emoji) and other control characters', async () => {
    const result = await app.client().request(Register, {
      input: { email: 'emoji@example.com', password: 'Correct-Horse-\ud83d\ude00-9', firstName: 'Ada \ud83d\ude00', lastName: 'Tab\tbed' },
    });
    expect(result.data?.register.__typename).toBe('User');
    expect(await app.services.prisma.user.findUnique({ where: { email: 'emoji@example.com' }, select: { firstName: true } })).toEqual({
      firstName: 'Ada \ud83d\ude00',
    });
  });

  it('records a failed sign-in with an over-long email cut before a character, not through it', async () => {
    // 253 characters, then an emoji whose two UTF-16 units straddle the audit log's 254-unit limit.
    const email = `${'a'.repeat(253)}\ud83d\ude00@example.com`;
    const result = await app.client().request(Login, { input: { email, password: TEST_PASSWORD } });
    expect(result.data?.login).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    const event = await app.services.prisma.authEvent.findFirst({ where: { kind: 'LOGIN_FAILED' }, orderBy: { id: 'desc' }, select: { email: true } });
    expect(event).toEqual({ email: 'a'.repeat(253) });
  });

  it('logs none of it as an error', () => {
    const errors = logs.lines.map((line) => JSON.parse(line)).filter((entry) => entry.level >= 50);
    expect(errors).toEqual([]);
  });
});
