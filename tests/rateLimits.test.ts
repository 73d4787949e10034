import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ALIASES } from '../src/queryLimits.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { Login, Register } from './operations/auth.ts';
import { ChangePassword } from './operations/account.ts';
import { RequestPasswordReset } from './operations/passwordReset.ts';
import { RefreshTokenPair } from './operations/tokens.ts';

const WRONG = 'Wrong-Password-123';

let app: TestApp;
afterEach(() => app?.stop());

async function start(env: Record<string, string> = {}) {
  app = await startTestApp({ RATE_LIMITS: 'on', TRUST_PROXY: '1', ...env });
  return app;
}

/** A client whose requests come from `ip`, as a trusted proxy reports it. */
function from(ip: string) {
  return app.client({ 'x-forwarded-for': ip });
}

async function login(ip: string, email: string, password: string) {
  const result = await from(ip).request(Login, { input: { email, password } });
  return result.data?.login.__typename ?? (result.errors?.[0]?.extensions?.code as string);
}

function limitedError(result: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }) {
  return result.errors?.find((error) => error.extensions?.code === 'RATE_LIMITED');
}

describe('the alias attack', () => {
  // graphql-armor refuses more than MAX_ALIASES aliases outright; this is the most that gets through.
  function aliasedLogins(emailFor: (i: number) => string) {
    const fields = Array.from(
      { length: MAX_ALIASES },
      (_, i) => `a${i}: login(input: { email: "${emailFor(i)}", password: "guess-${i}-x!" }) { __typename }`,
    );
    return `mutation { ${fields.join('\n')} }`;
  }

  it('gets one password check per allowed attempt, not one per alias', async () => {
    await start();
    await app.createUser({ email: 'victim@example.com' });
    const before = app.services.hasher.operations;
    const result = await from('198.51.100.1').raw(aliasedLogins(() => 'victim@example.com'));
    expect(app.services.hasher.operations - before).toBe(5);
    const refusal = limitedError(result);
    expect(refusal?.message).toMatch(/Too many attempts/);
    expect(refusal?.extensions?.retryAfter).toBeGreaterThan(0);
  });

  it('cannot spray many accounts from one address in one request either', async () => {
    await start({ RATE_LIMIT_IP_ATTEMPTS: '3/60' });
    const before = app.services.hasher.operations;
    const result = await from('198.51.100.2').raw(aliasedLogins((i) => `user${i}@example.com`));
    expect(app.services.hasher.operations - before).toBe(3);
    expect(limitedError(result)).toBeDefined();
  });
});

describe('login limits', () => {
  it('refuses a sixth consecutive failure for one email from one address, without checking the password', async () => {
    await start();
    await app.createUser({ email: 'alice@example.com' });
    for (let i = 0; i < 5; i += 1) expect(await login('203.0.113.1', 'alice@example.com', WRONG)).toBe('InvalidCredentialsError');

    const before = app.services.hasher.operations;
    const result = await from('203.0.113.1').request(Login, { input: { email: 'ALICE@example.com', password: TEST_PASSWORD } });
    expect(app.services.hasher.operations).toBe(before);
    expect(result.data).toBeNull();
    const refusal = limitedError(result)!;
    expect(refusal.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refusal.extensions!.retryAfter).toBeGreaterThan(0);
    expect(refusal.extensions!.retryAfter).toBeLessThanOrEqual(15 * 60);
  });

  it('does not lock the account out from other addresses, nor other accounts out from that address', async () => {
    await start();
    await app.createUser({ email: 'bob@example.com' });
    await app.createUser({ email: 'carol@example.com' });
    for (let i = 0; i < 5; i += 1) await login('203.0.113.2', 'bob@example.com', WRONG);
    expect(await login('203.0.113.2', 'bob@example.com', TEST_PASSWORD)).toBe('RATE_LIMITED');
    expect(await login('203.0.113.3', 'bob@example.com', TEST_PASSWORD)).toBe('User');
    expect(await login('203.0.113.2', 'carol@example.com', TEST_PASSWORD)).toBe('User');
  });

  it('forgets failures after a success, so a user’s own typos do not add up', async () => {
    await start();
    await app.createUser({ email: 'dave@example.com' });
    for (let i = 0; i < 4; i += 1) await login('203.0.113.4', 'dave@example.com', WRONG);
    expect(await login('203.0.113.4', 'dave@example.com', TEST_PASSWORD)).toBe('User');
    for (let i = 0; i < 4; i += 1) expect(await login('203.0.113.4', 'dave@example.com', WRONG)).toBe('InvalidCredentialsError');
  });

  it('caps failures for one email across all addresses', async () => {
    await start();
    await app.createUser({ email: 'erin@example.com' });
    for (let i = 0; i < 20; i += 1) expect(await login(`192.0.2.${i + 1}`, 'erin@example.com', WRONG)).toBe('InvalidCredentialsError');
    expect(await login('192.0.2.200', 'erin@example.com', TEST_PASSWORD)).toBe('RATE_LIMITED');
  });

  it('caps failures per address across emails (RATE_LIMIT_IP_FAILURES)', async () => {
    await start({ RATE_LIMIT_IP_FAILURES: '3/3600' });
    await app.createUser({ email: 'frank@example.com' });
    for (let i = 0; i < 3; i += 1) await login('203.0.113.9', `nobody${i}@example.com`, WRONG);
    expect(await login('203.0.113.9', 'frank@example.com', TEST_PASSWORD)).toBe('RATE_LIMITED');
    expect(await login('203.0.113.10', 'frank@example.com', TEST_PASSWORD)).toBe('User');
  });

  it('applies the same limits to obtainTokens, which shares them with login', async () => {
    await start();
    await app.createUser({ email: 'grace@example.com' });
    for (let i = 0; i < 5; i += 1) await login('203.0.113.11', 'grace@example.com', WRONG);
    const before = app.services.hasher.operations;
    const result = await from('203.0.113.11').raw(
      `mutation { obtainTokens(input: { email: "grace@example.com", password: "${TEST_PASSWORD}" }) { __typename } }`,
    );
    expect(limitedError(result)).toBeDefined();
    expect(app.services.hasher.operations).toBe(before);
  });
});

describe('other guarded operations', () => {
  it('limits registrations per address', async () => {
    await start();
    const register = (ip: string, i: number) =>
      from(ip).request(Register, { input: { email: `new${ip}-${i}@example.com`, password: TEST_PASSWORD } });
    for (let i = 0; i < 10; i += 1) expect((await register('203.0.113.20', i)).data?.register.__typename).toBe('User');
    expect(limitedError(await register('203.0.113.20', 10))).toBeDefined();
    expect((await register('203.0.113.21', 0)).data?.register.__typename).toBe('User');
  });

  it('sends at most three reset mails an hour to one address, whoever asks', async () => {
    await start();
    for (let i = 0; i < 3; i += 1) {
      expect((await from(`203.0.113.${30 + i}`).request(RequestPasswordReset, { email: 'mailbox@example.com' })).data).toEqual({
        requestPasswordReset: true,
      });
    }
    expect(limitedError(await from('203.0.113.40').request(RequestPasswordReset, { email: 'Mailbox@example.com' }))).toBeDefined();
  });

  it('stops a stolen session from guessing the current password in changePassword', async () => {
    await start();
    const client = await app.signedIn({ email: 'henry@example.com' });
    for (let i = 0; i < 5; i += 1) {
      const result = await client.request(ChangePassword, { input: { currentPassword: WRONG, newPassword: 'a new long passphrase' } });
      expect(result.data?.changePassword.__typename).toBe('InvalidCredentialsError');
    }
    const before = app.services.hasher.operations;
    const result = await client.request(ChangePassword, {
      input: { currentPassword: TEST_PASSWORD, newPassword: 'a new long passphrase' },
    });
    expect(limitedError(result)).toBeDefined();
    expect(app.services.hasher.operations).toBe(before);
  });

  it('counts bad refresh tokens against the address', async () => {
    await start({ RATE_LIMIT_IP_FAILURES: '3/3600' });
    for (let i = 0; i < 3; i += 1) {
      const result = await from('203.0.113.50').request(RefreshTokenPair, { refreshToken: `forged-${i}` });
      expect(result.data?.refreshTokens.__typename).toBe('InvalidTokenError');
    }
    expect(limitedError(await from('203.0.113.50').request(RefreshTokenPair, { refreshToken: 'forged-3' }))).toBeDefined();
  });
});

describe('guesses sent at once', () => {
  // Behind a proxy with many clients the per-address attempt limit is high; only the failure
  // limits stand between an attacker and the account then. Each attempt reserves its point before
  // the password check, so parallel attempts cannot all read the same count and pass together.
  const GUESSES = 50;
  const parallel = { RATE_LIMIT_IP_ATTEMPTS: '1000/60', HASH_QUEUE_MAX_WAIT_SECONDS: '600' };

  async function guessAtOnce(email: string, ipFor: (i: number) => string) {
    const before = app.services.hasher.operations;
    const answers = await Promise.all(Array.from({ length: GUESSES }, (_, i) => login(ipFor(i), email, `${WRONG}-${i}`)));
    return { checked: app.services.hasher.operations - before, answers };
  }

  function count(answers: string[]) {
    return { failed: answers.filter((a) => a === 'InvalidCredentialsError').length, refused: answers.filter((a) => a === 'RATE_LIMITED').length };
  }

  it(`checks 5 of ${GUESSES} wrong passwords for one email sent at once from one address`, { timeout: 60_000 }, async () => {
    await start(parallel);
    await app.createUser({ email: 'parallel-one@example.com' });
    const { checked, answers } = await guessAtOnce('parallel-one@example.com', () => '198.51.100.70');
    expect(count(answers)).toEqual({ failed: 5, refused: GUESSES - 5 });
    expect(checked).toBe(5);
    const failedEvents = await app.services.prisma.authEvent.count({ where: { kind: 'LOGIN_FAILED', email: 'parallel-one@example.com' } });
    expect(failedEvents).toBe(5);
  });

  it(`checks 20 of ${GUESSES} wrong passwords for one email sent at once from 5 and from ${GUESSES} addresses`, { timeout: 60_000 }, async () => {
    await start(parallel);
    await app.createUser({ email: 'parallel-five@example.com' });
    await app.createUser({ email: 'parallel-many@example.com' });
    const five = await guessAtOnce('parallel-five@example.com', (i) => `198.51.100.${80 + (i % 5)}`);
    expect(count(five.answers)).toEqual({ failed: 20, refused: GUESSES - 20 });
    expect(five.checked).toBe(20);
    const many = await guessAtOnce('parallel-many@example.com', (i) => `198.51.101.${i + 1}`);
    expect(count(many.answers)).toEqual({ failed: 20, refused: GUESSES - 20 });
    expect(many.checked).toBe(20);
  });

  it('gives back the reservation of an attempt that does not fail', async () => {
    // Successes neither count as failures per address nor clear them: each gives its point back.
    await start({ RATE_LIMIT_IP_FAILURES: '3/3600' });
    await app.createUser({ email: 'ivan@example.com' });
    for (let i = 0; i < 6; i += 1) expect(await login('203.0.113.70', 'ivan@example.com', TEST_PASSWORD)).toBe('User');
    for (let i = 0; i < 3; i += 1) expect(await login('203.0.113.70', `nobody-ivan${i}@example.com`, WRONG)).toBe('InvalidCredentialsError');
    expect(await login('203.0.113.70', 'ivan@example.com', TEST_PASSWORD)).toBe('RATE_LIMITED');
  });

  it('gives back the reservations of an attempt refused by another limit', async () => {
    // Refused by the attempt limit: the failure limits are not spent by attempts that never ran.
    await start({ RATE_LIMIT_IP_ATTEMPTS: '2/3600', RATE_LIMIT_EMAIL_FAILURES: '2/3600' });
    await app.createUser({ email: 'judy@example.com' });
    expect(await login('203.0.113.71', 'judy@example.com', WRONG)).toBe('InvalidCredentialsError');
    expect(await login('203.0.113.71', 'judy@example.com', TEST_PASSWORD)).toBe('User');
    for (let i = 0; i < 3; i += 1) expect(await login('203.0.113.71', 'judy@example.com', WRONG)).toBe('RATE_LIMITED');
    expect(await login('203.0.113.72', 'judy@example.com', WRONG)).toBe('InvalidCredentialsError');
    expect(await login('203.0.113.72', 'judy@example.com', TEST_PASSWORD)).toBe('User');
  });
});

describe('RATE_LIMITS=off', () => {
  it('lets every attempt through (for load tests)', async () => {
    await start({ RATE_LIMITS: 'off' });
    await app.createUser({ email: 'loadtest@example.com' });
    for (let i = 0; i < 12; i += 1) expect(await login('203.0.113.60', 'loadtest@example.com', WRONG)).toBe('InvalidCredentialsError');
    expect(await login('203.0.113.60', 'loadtest@example.com', TEST_PASSWORD)).toBe('User');
  });
});

describe('a flood of sign-ins', () => {
  it('queues at most HASH_QUEUE_MAX_WAIT_SECONDS of password checks and refuses the rest at once, with a retry time', async () => {
    // Many users behind one proxy address (RATE_LIMITS off): only the hash queue can refuse them.
    await start({ RATE_LIMITS: 'off', HASH_QUEUE_MAX_WAIT_SECONDS: '1' });
    const email = 'flood@example.com';
    await app.createUser({ email });
    const operationsBefore = app.services.hasher.operations;

    const results = await Promise.all(
      Array.from({ length: 60 }, () => from('198.51.100.1').request(Login, { input: { email, password: TEST_PASSWORD } })),
    );
    const signedIn = results.filter((result) => result.data?.login.__typename === 'User');
    const refused = results.map(limitedError).filter((error) => error !== undefined);
    expect(signedIn.length + refused.length).toBe(60);
    expect(signedIn.length).toBeGreaterThan(1);
    expect(refused.length).toBeGreaterThan(0);
    for (const error of refused) {
      expect(error.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
      expect(error.message).toMatch(/^The service is busy\. Try again in \d+ seconds\.$/);
    }
    // A refused sign-in spent no password check.
    expect(app.services.hasher.operations - operationsBefore).toBe(signedIn.length);

    // Once the queue has drained, sign-ins go through again.
    expect(await login('198.51.100.2', email, TEST_PASSWORD)).toBe('User');
  });
});
