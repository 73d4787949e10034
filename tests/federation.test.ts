// The service as an Apollo Federation v2 subgraph: `_service { sdl }` and `_entities` over HTTP.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REPRESENTATIONS } from '../src/schema/federation.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { FederationTokens, FederationUser, SERVICE_SDL, USER_ENTITIES } from './operations/federation.ts';
import { staffMember } from './helpers/actors.ts';

const committedSdl = () => fs.readFileSync(new URL('../schema.subgraph.graphql', import.meta.url), 'utf8');

let app: TestApp;
let staff: TestClient;
let ada: { id: number; email: string };
let bob: { id: number; email: string };
let adaClient: TestClient;
beforeAll(async () => {
  app = await startTestApp();
  staff = await staffMember(app, 'staff@example.com');
  ada = await app.createUser({ email: 'ada@example.com', firstName: 'Ada' });
  bob = await app.createUser({ email: 'bob@example.com', firstName: 'Bob' });
  adaClient = app.client();
  await adaClient.login(ada.email, TEST_PASSWORD);
});
afterAll(() => app?.stop());

const reference = (id: unknown) => ({ __typename: 'User', id });

async function entities(client: TestClient, representations: unknown[]) {
  return client.raw(USER_ENTITIES, { representations });
}

/** The user as `user(id)` shows it to staff. */
async function asStaffSees(id: number) {
  return (await staff.request(FederationUser, { id: String(id) })).data?.user;
}

describe('_service', () => {
  it('answers the committed subgraph SDL to anyone', async () => {
    const result = await app.client().raw(SERVICE_SDL);
    expect(result.errors).toBeUndefined();
    expect(result.data._service.sdl).toBe(committedSdl());
    expect(result.data._service.sdl).toMatch(/^schema @link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+", import: \["@key"\]\)/);
    expect(result.data._service.sdl).toMatch(/^type User @key\(fields: "id"\) \{$/m);
  });

  it('keeps answering in production, where introspection is off', async () => {
    const production = await startTestApp({
      NODE_ENV: 'production',
      SESSION_SECRET: 's'.repeat(40),
      JWT_SECRET: 'j'.repeat(40),
      TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    });
    try {
      const sdl = await production.client().raw(SERVICE_SDL);
      expect(sdl.data._service.sdl).toBe(committedSdl());
      const introspection = await production.client().raw('{ __schema { queryType { name } } }');
      expect(introspection.data).toBeUndefined();
      expect(introspection.errors?.length).toBeGreaterThan(0);
    } finally {
      await production.stop();
    }
  });
});

describe('_entities', () => {
  it('resolves any user for staff, as user(id) does, and null for ids that name nobody', async () => {
    const result = await entities(staff, [reference(String(bob.id)), reference(String(ada.id)), reference('999999'), reference('x')]);
    expect(result.errors).toBeUndefined();
    expect(result.data._entities).toEqual([await asStaffSees(bob.id), await asStaffSees(ada.id), null, null]);
    expect(result.data._entities[1]).toMatchObject({ __typename: 'User', email: ada.email, firstName: 'Ada' });
  });

  it('resolves a signed-in user themselves, and nobody else (null, no error)', async () => {
    const result = await entities(adaClient, [reference(String(ada.id)), reference(String(bob.id))]);
    expect(result.errors).toBeUndefined();
    expect(result.data._entities).toEqual([await asStaffSees(ada.id), null]);
  });

  it('resolves the bearer of an access token themselves', async () => {
    const tokens = await app.client().request(FederationTokens, { input: { email: bob.email, password: TEST_PASSWORD } });
    const pair = tokens.data?.obtainTokens;
    if (pair?.__typename !== 'TokenPair') throw new Error('obtainTokens failed');
    const bearer = app.client({ authorization: `Bearer ${pair.accessToken}` });
    const result = await entities(bearer, [reference(String(ada.id)), reference(String(bob.id))]);
    expect(result.data._entities).toEqual([null, await asStaffSees(bob.id)]);
  });

  it('answers null for every position to anonymous requests and to invalid tokens', async () => {
    for (const client of [app.client(), app.client({ authorization: 'Bearer not-a-token' })]) {
      const result = await entities(client, [reference(String(ada.id)), reference(String(bob.id))]);
      expect(result.errors).toBeUndefined();
      expect(result.data._entities).toEqual([null, null]);
    }
  });

  it('answers null for a deactivated user asking for themselves', async () => {
    const gone = await app.createUser({ email: 'gone@example.com' });
    const client = app.client();
    await client.login(gone.email, TEST_PASSWORD);
    await app.services.prisma.user.update({ where: { id: gone.id }, data: { isActive: false } });
    const result = await entities(client, [reference(String(gone.id))]);
    expect(result.data._entities).toEqual([null]);
  });

  it('reads every user of one request in one query', async () => {
    const ids = [ada.id, bob.id, ada.id, 424242];
    app.sql.length = 0;
    const result = await entities(staff, ids.map((id) => reference(String(id))));
    expect(result.data._entities.map((user: { id: string } | null) => user?.id ?? null)).toEqual([String(ada.id), String(bob.id), String(ada.id), null]);
    expect(app.sql.filter((sql) => /\bFROM\s+\S*User\b/.test(sql))).toHaveLength(1);
  });

  it('refuses a representation of a type this subgraph does not own as bad input', async () => {
    for (const representation of [{ __typename: 'Order', id: '1' }, { id: '1' }, 'User']) {
      const result = await entities(staff, [reference(String(ada.id)), representation]);
      expect(result.data).toBeNull();
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it(`refuses more than ${MAX_REPRESENTATIONS} representations in one request`, async () => {
    const many = Array.from({ length: MAX_REPRESENTATIONS + 1 }, (_, index) => reference(String(index + 1)));
    const result = await entities(staff, many);
    expect(result.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const most = await entities(staff, many.slice(0, MAX_REPRESENTATIONS));
    expect(most.errors).toBeUndefined();
    expect(most.data._entities).toHaveLength(MAX_REPRESENTATIONS);
  });
});
