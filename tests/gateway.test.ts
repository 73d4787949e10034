// This service as the identity subgraph of a supergraph, with real parts: composed with a second
// subgraph (orders) by @theguild/federation-composition, behind Hive Gateway's runtime, which checks
// bearer tokens against this service's JWKS and forwards Authorization to both subgraphs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { createRemoteJwksSigningKeyProvider, extractFromHeader, useJWT } from '@graphql-mesh/plugin-jwt-auth';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSubgraphSchema } from '../src/schema/index.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { tokenClient } from './helpers/actors.ts';
import { startOrdersSubgraph, type OrdersSubgraph } from './helpers/ordersSubgraph.ts';
import { Me } from './operations/auth.ts';
import { FederationTokens } from './operations/federation.ts';
import { ADA_ORDERS, ORDER_WITH_CUSTOMER, ORDER_INTERNAL_NOTE } from './operations/gateway.ts';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'orders-graph';

let app: TestApp;
let orders: OrdersSubgraph;
let gateway: { url: string; stop(): Promise<void> };
let ada: { id: number; email: string };
let bob: { id: number; email: string };
let signingKeys: string;

async function tokenFor(email: string): Promise<string> {
  const result = await app.client().request(FederationTokens, { input: { email, password: TEST_PASSWORD } });
  const pair = result.data?.obtainTokens;
  if (pair?.__typename !== 'TokenPair') throw new Error(`obtainTokens failed for ${email}`);
  return pair.accessToken;
}

async function viaGateway(query: string, token?: string, variables?: Record<string, unknown>) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

beforeAll(async () => {
  // Hive Gateway's JWT plugin verifies with jsonwebtoken, which knows ES256 but not EdDSA.
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  signingKeys = JSON.stringify([{ ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'gateway-test-1' }]);
  app = await startTestApp({ JWT_SIGNING_KEYS: signingKeys, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
  ada = await app.createUser({ email: 'ada@example.com', firstName: 'Ada' });
  bob = await app.createUser({ email: 'bob@example.com', firstName: 'Bob' });
  await app.createUser({ email: 'staff@example.com', isStaff: true });
  const jwksUrl = `${app.url}/.well-known/jwks.json`;
  orders = await startOrdersSubgraph(
    [
      { id: 'o1', customerId: String(ada.id), total: 12.5, internalNote: 'ada: gift wrap' },
      { id: 'o2', customerId: String(bob.id), total: 99, internalNote: 'bob: fraud check' },
    ],
    jwksUrl,
  );

  const composed = composeServices([
    { name: 'auth', typeDefs: parse(printedSubgraphSchema()), url: `${app.url}/graphql` },
    { name: 'orders', typeDefs: parse(orders.sdl), url: orders.url },
  ]);
  if (composed.errors?.length) throw new Error(`composition failed: ${composed.errors.map((error) => error.message).join('; ')}`);

  const runtime = createGatewayRuntime({
    supergraph: composed.supergraphSdl!,
    logging: 'error',
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
    },
    plugins: () => [
      useJWT({
        signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri: jwksUrl })],
        tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
        tokenVerification: { algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE },
        reject: { missingToken: false, invalidToken: true },
      }) as GatewayPlugin,
    ],
    genericAuth: {
      mode: 'protect-granular',
      resolveUserFn: (context) => (context as { jwt?: { payload?: Record<string, unknown> } }).jwt?.payload ?? null,
      extractScopes: (payload) => String((payload as { scope?: unknown }).scope ?? '').split(' ').filter(Boolean),
      rejectUnauthenticated: false,
    },
  });
  const server = http.createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runtime.dispose();
    },
  };
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await orders?.stop();
  await app?.stop();
});

describe('a supergraph of this service and an orders subgraph, behind Hive Gateway', () => {
  it('answers a user’s query across both subgraphs, forwarding the bearer token to each', async () => {
    const token = await tokenFor(ada.email);
    orders.requests.length = 0;
    const { status, body } = await viaGateway(ADA_ORDERS, token);
    expect(status).toBe(200);
    expect(body).toEqual({
      data: {
        me: { id: String(ada.id), email: ada.email },
        myOrders: [{ id: 'o1', total: 12.5, customer: { id: String(ada.id), email: ada.email, firstName: 'Ada' } }],
      },
    });
    expect(orders.requests.map((request) => request.authorization)).toEqual([`Bearer ${token}`]);
  });

  it('does not let a user read another user’s data through the other subgraph', async () => {
    const token = await tokenFor(ada.email);
    const { body } = await viaGateway(ORDER_WITH_CUSTOMER, token, { id: 'o2' });
    expect(body.data).toEqual({ order: { id: 'o2', total: 99, customer: null } });
    // This service answered null for Bob; the gateway reports the User it could not fill in
    // (masked, as it masks every subgraph error), and nothing of Bob's.
    expect(body.errors).toEqual([
      expect.objectContaining({ message: 'Unexpected error.', path: ['order', 'customer', 'email'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
    ]);
    expect(JSON.stringify(body)).not.toMatch(new RegExp(`${bob.email}|Bob`));
  });

  it('lets staff read any customer', async () => {
    const token = await tokenFor('staff@example.com');
    const { body } = await viaGateway(ORDER_WITH_CUSTOMER, token, { id: 'o2' });
    expect(body).toEqual({ data: { order: { id: 'o2', total: 99, customer: { id: String(bob.id), email: bob.email, firstName: 'Bob' } } } });
  });

  it('refuses a field marked @requiresScopes([["staff"]]) to tokens without the staff scope, and allows it with', async () => {
    const adaToken = await tokenFor(ada.email);
    expect(decodeJwt(adaToken).scope ?? '').not.toMatch(/\bstaff\b/);
    orders.requests.length = 0;
    const refused = await viaGateway(ORDER_INTERNAL_NOTE, adaToken, { id: 'o1' });
    expect(refused.body.data?.order?.internalNote ?? null).toBeNull();
    expect(refused.body.errors?.map((error: { extensions?: { code?: string } }) => error.extensions?.code)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);
    expect(orders.requests.some((request) => request.query.includes('internalNote'))).toBe(false);

    const staffToken = await tokenFor('staff@example.com');
    expect(String(decodeJwt(staffToken).scope).split(' ')).toContain('staff');
    const allowed = await viaGateway(ORDER_INTERNAL_NOTE, staffToken, { id: 'o1' });
    expect(allowed.body).toEqual({ data: { order: { id: 'o1', internalNote: 'ada: gift wrap' } } });
  });

  it('refuses a token signed with a key the JWKS does not publish, before any subgraph sees it', async () => {
    const genuine = await tokenFor(ada.email);
    const { privateKey } = await generateKeyPair('ES256');
    // The same claims and even the same kid: only the signature differs.
    const forged = await new SignJWT(decodeJwt(genuine))
      .setProtectedHeader({ alg: 'ES256', kid: decodeProtectedHeader(genuine).kid })
      .sign(privateKey);
    orders.requests.length = 0;
    const { status, body } = await viaGateway(ADA_ORDERS, forged);
    expect(body.data ?? null).toBeNull();
    expect(status).toBe(401);
    expect(orders.requests).toEqual([]);
    // And this service refuses it too, were it sent there directly: anonymous.
    expect((await tokenClient(app, forged).request(Me)).data).toEqual({ me: null });
  });
});
