import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { probeHealth } from './helpers/probe.ts';
import { InputChangePassword, InputCreateUser, InputRegister, InputUpdateUser } from './operations/input.ts';

let app: TestApp;
let staff: TestClient;
beforeAll(async () => {
  app = await startTestApp();
  staff = await app.signedIn({ email: 'input-staff@example.com', isStaff: true });
  // Compiles the code paths once, so the timings below measure the checks, not the first run.
  await app.client().request(InputRegister, { input: { email: 'warm-up@example.com', password: 'short', firstName: 'W' } });
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
  // Generous against a loaded machine (changePassword includes a bcrypt check): the unbounded
  // similarity check took 5 seconds and more.
  const ANSWER_MS = 2000;
  const HEALTH_MS = 250;

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
      app.client().request(InputRegister, { input: { email: 'long-name@example.com', password, ...names } }),
    );
    expect(result.data?.register).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field, messages }] });
  });

  it('register with a 95 KB email', async () => {
    const result = await expectQuick(() => app.client().request(InputRegister, { input: { email: `${long}@example.com`, password } }));
    expect(result.data?.register).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'email', messages: EMAIL_TOO_LONG }] });
  });

  it('createUser with a 95,000-character first name', async () => {
    const result = await expectQuick(() =>
      staff.request(InputCreateUser, { input: { email: 'created-long@example.com', password, firstName: long } }),
    );
    expect(result.data?.createUser).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'firstName', messages: NAME_TOO_LONG }] });
  });

  it('createUser with a 95 KB email', async () => {
    const result = await expectQuick(() => staff.request(InputCreateUser, { input: { email: `${long}@example.com`, password } }));
    expect(result.data?.createUser).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'email', messages: EMAIL_TOO_LONG }] });
  });

  it('updateUser with a new password and a 95,000-character last name', async () => {
    const { id } = await app.createUser({ email: 'updated-long@example.com' });
    const result = await expectQuick(() => staff.request(InputUpdateUser, { id: String(id), input: { password, lastName: long } }));
    expect(result.data?.updateUser).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'lastName', messages: NAME_TOO_LONG }] });
  });

  it('changePassword to a 95 KB password', async () => {
    const client = await app.signedIn({ email: 'change-long@example.com' });
    const result = await expectQuick(() =>
      client.request(InputChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: long } }),
    );
    expect(result.data?.changePassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['This password is too long. It must be at most 72 bytes.'] }],
    });
  });
});
