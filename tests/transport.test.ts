import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { capturingLogger } from './helpers/logs.ts';
import { Me, Register } from './operations/auth.ts';

const PRODUCTION_SECRETS = {
  NODE_ENV: 'production',
  SESSION_SECRET: 's'.repeat(40),
  JWT_SECRET: 'j'.repeat(40),
  TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
};

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ CORS_ORIGINS: 'http://allowed.test' });
});
afterAll(() => app?.stop());

describe('health', () => {
  it('answers ok when the database answers', async () => {
    const response = await fetch(`${app.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('CSRF and methods', () => {
  const query = encodeURIComponent('{ me { email } }');

  it('refuses a GET query without a preflight header', async () => {
    const response = await fetch(`${app.url}/graphql?query=${query}`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(403);
  });

  it.each(['x-graphql-yoga-csrf', 'apollo-require-preflight', 'graphql-require-preflight'])(
    'runs a GET query carrying %s',
    async (header) => {
      const response = await fetch(`${app.url}/graphql?query=${query}`, {
        headers: { accept: 'application/json', [header]: '1' },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { me: null } });
    },
  );

  it('refuses a text/plain POST without a preflight header, and runs nothing', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({
        query: `mutation { register(input: { email: "csrf@example.com", password: "${TEST_PASSWORD}" }) { __typename } }`,
      }),
    });
    expect(response.status).toBe(403);
    expect(await app.services.prisma.user.count({ where: { email: 'csrf@example.com' } })).toBe(0);
  });

  it('never runs a mutation over GET', async () => {
    const mutation = encodeURIComponent(
      `mutation { register(input: { email: "get@example.com", password: "${TEST_PASSWORD}" }) { __typename } }`,
    );
    const response = await fetch(`${app.url}/graphql?query=${mutation}`, {
      headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' },
    });
    expect(response.status).toBe(405);
    expect(await app.services.prisma.user.count({ where: { email: 'get@example.com' } })).toBe(0);
  });
});

describe('bad input', () => {
  async function post(body: string, contentType = 'application/json') {
    return fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType }, body });
  }

  it('answers malformed JSON with a 400 and a clear message', async () => {
    const response = await post('{"query": "{ me { id } }"');
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0].message).toMatch(/JSON/i);
  });

  it('refuses a body over 100 KB with 413', async () => {
    const response = await post(JSON.stringify({ query: `{ me { id } } #${'x'.repeat(110 * 1024)}` }));
    expect(response.status).toBe(413);
  });

  it('rejects unknown fields and wrong argument types by validation', async () => {
    const unknown = await app.client().raw('{ me { id password } }');
    expect(unknown.errors?.[0]?.message).toMatch(/Cannot query field "password"/);
    const wrongType = await app.client().raw('mutation { login(input: { email: 42, password: true }) { __typename } }');
    expect(wrongType.errors?.[0]?.message).toMatch(/String cannot represent a non string value/);
    expect(wrongType.data).toBeUndefined();
  });

  it('refuses batched requests', async () => {
    const response = await post(JSON.stringify([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]));
    expect(response.status).toBeGreaterThanOrEqual(400);
    const body = await response.json();
    expect(body.errors?.length).toBeGreaterThan(0);
  });

  it('keeps serving after all of the above', async () => {
    expect((await app.client().request(Me)).data).toEqual({ me: null });
  });
});

describe('CORS', () => {
  it('allows a configured origin with credentials', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://allowed.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('http://allowed.test');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('does not allow any other origin', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'http://evil.test', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(response.headers.get('access-control-allow-origin')).not.toBe('http://evil.test');
    expect(response.headers.get('access-control-allow-origin')).not.toBe('*');
  });
});

describe('development mode', () => {
  it('serves GraphiQL to browsers at /graphql', async () => {
    const response = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/graphiql/i);
  });

  it('answers introspection', async () => {
    const result = await app.client().raw('{ __schema { queryType { name } } }');
    expect(result.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('production mode', () => {
  let production: TestApp;
  beforeAll(async () => {
    production = await startTestApp({ ...PRODUCTION_SECRETS, TRUST_PROXY: '1' });
  });
  afterAll(() => production?.stop());

  it('serves no GraphiQL', async () => {
    const response = await fetch(`${production.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await response.text()).not.toMatch(/graphiql/i);
  });

  it('refuses introspection', async () => {
    const result = await production.client().raw('{ __schema { queryType { name } } }');
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('sets a Secure session cookie behind a TLS-terminating proxy', async () => {
    const { email } = await production.createUser({ email: 'secure@example.com' });
    const client = production.client({ 'x-forwarded-proto': 'https' });
    const result = await client.login(email, TEST_PASSWORD);
    const cookie = result.headers.getSetCookie()[0];
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
  });
});

describe('logs', () => {
  it('are JSON lines per request with no password, hash or cookie in them', async () => {
    const { lines, logger } = capturingLogger('debug');
    const logged = await startTestApp({}, { logger });
    try {
      const client = logged.client();
      await client.request(Register, { input: { email: 'logged@example.com', password: TEST_PASSWORD } });
      await client.login('logged@example.com', TEST_PASSWORD);
      await client.request(Me);
      await client.raw('{ users(after: "forged") { totalCount } }');
      const { passwordHash } = await logged.services.prisma.user.findUniqueOrThrow({
        where: { email: 'logged@example.com' },
        select: { passwordHash: true },
      });
      const entries = lines.map((line) => JSON.parse(line));
      expect(entries.filter((entry) => entry.msg === 'request')).toEqual(
        expect.arrayContaining([expect.objectContaining({ method: 'POST', path: '/graphql', status: 200 })]),
      );
      const text = lines.join('\n');
      expect(text).not.toContain(TEST_PASSWORD);
      expect(text).not.toContain(passwordHash);
      expect(text).not.toContain(client.cookies.get('sid'));
    } finally {
      await logged.stop();
    }
  });
});

describe('unexpected failures', () => {
  it('are masked for the client and logged for the operator', async () => {
    const { lines, logger } = capturingLogger('error');
    const broken = await startTestApp({}, { logger });
    try {
      await broken.services.prisma.$executeRawUnsafe('ALTER TABLE "User" RENAME TO "UserGone"');
      const result = await broken.client().request(Register, {
        input: { email: 'broken@example.com', password: TEST_PASSWORD },
      });
      expect(result.errors).toEqual([
        expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
      ]);
      expect(JSON.stringify(result)).not.toMatch(/User|SQL|stack|prisma/i);
      expect(lines.join('\n')).toMatch(/no such table|does not exist/i);
      expect(lines.join('\n')).not.toContain(TEST_PASSWORD);
    } finally {
      await broken.stop();
    }
  });
});

describe('malformed GET parameters', () => {
  const query = encodeURIComponent('{ me { id } }');

  it.each([
    ['variables', `variables=${encodeURIComponent('{bad')}`],
    ['extensions', `variables=${encodeURIComponent('{}')}&extensions=${encodeURIComponent('{"persistedQuery":')}`],
  ])('answer 400 BAD_REQUEST naming the %s parameter, logged below error level', async (name, parameters) => {
    const { lines, logger } = capturingLogger('info');
    const logged = await startTestApp({ LOG_LEVEL: 'info' }, { logger });
    try {
      const response = await fetch(`${logged.url}/graphql?query=${query}&${parameters}`, {
        headers: { accept: 'application/json', 'graphql-require-preflight': '1' },
      });
      expect(response.status).toBe(400);
      const body = await response.json();
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0].message).toMatch(new RegExp(`^The ${name} parameter is not valid JSON: `));
      expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_REQUEST' });
      expect(JSON.stringify(body)).not.toMatch(/stack|at .*\.js/);
      const entries = lines.map((line) => JSON.parse(line));
      expect(entries.filter((entry) => entry.level >= 40)).toEqual([]);
      expect(entries).toContainEqual(expect.objectContaining({ msg: 'request', method: 'GET', status: 400 }));
    } finally {
      await logged.stop();
    }
  });

  it('answer 400 in a form POST too', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-yoga-csrf': '1' },
      body: `query=${query}&variables=${encodeURIComponent('{bad')}`,
    });
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0]).toMatchObject({ extensions: { code: 'BAD_REQUEST' } });
  });

  it('while well-formed variables still work over GET', async () => {
    const withVariables = encodeURIComponent('query($n: Int) { users(first: $n) { totalCount } }');
    const response = await fetch(`${app.url}/graphql?query=${withVariables}&variables=${encodeURIComponent('{"n":1}')}`, {
      headers: { accept: 'application/json', 'graphql-require-preflight': '1' },
    });
    expect(response.status).toBe(200);
    expect((await response.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('CSRF by content type', () => {
  const logout = 'mutation { logout { message } }';
  const bodies: [string, string | undefined, BodyInit][] = [
    ['application/graphql', 'application/graphql', logout],
    ['application/graphql; charset=utf-8', 'application/graphql; charset=utf-8', logout],
    ['text/plain', 'text/plain', JSON.stringify({ query: logout })],
    ['multipart/form-data', 'multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: logout })}\r\n--x--\r\n`],
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded', `query=${encodeURIComponent(logout)}`],
    ['a list that starts with JSON', 'application/json, text/plain', JSON.stringify({ query: logout })],
    ['no content type', undefined, new TextEncoder().encode(JSON.stringify({ query: logout }))],
  ];

  it.each(bodies)('refuses a POST of %s with the session cookie and no CSRF header, and runs nothing', async (_name, contentType, body) => {
    const client = await app.signedIn({ email: `csrf-${Math.random().toString(36).slice(2)}@example.com` });
    const response = await client.fetch('/graphql', { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
    expect(response.status).toBe(403);
    expect((await response.json()).errors[0].message).toMatch(/must carry one of these headers: x-graphql-yoga-csrf, apollo-require-preflight/);
    expect((await client.request(Me)).data?.me).not.toBeNull();
  });

  it('runs application/graphql when it carries a CSRF header', async () => {
    const client = await app.signedIn({ email: 'csrf-graphql-header@example.com' });
    const response = await client.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/graphql', 'apollo-require-preflight': 'true' },
      body: logout,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { logout: { message: 'Successfully logged out' } } });
    expect((await client.request(Me)).data?.me).toBeNull();
  });

  it.each(['application/json', 'application/json; charset=utf-8'])('runs %s without one', async (contentType) => {
    const client = await app.signedIn({ email: `csrf-json-${contentType.length}-${contentType.charCodeAt(0)}@example.com` });
    const response = await client.fetch('/graphql', { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify({ query: logout }) });
    expect(response.status).toBe(200);
    expect((await client.request(Me)).data?.me).toBeNull();
  });
});

describe('CORS with several origins', () => {
  const LISTED = ['https://app.example.com', 'http://127.0.0.1:5173'];
  let cors: TestApp;
  beforeAll(async () => {
    cors = await startTestApp({ CORS_ORIGINS: LISTED.join(',') });
  });
  afterAll(() => cors?.stop());

  const corsHeaders = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
  const vary = (response: Response) => (response.headers.get('vary') ?? '').split(',').map((value) => value.trim().toLowerCase());

  function preflight(url: string, origin: string) {
    return fetch(`${url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  }
  function query(url: string, origin?: string) {
    return fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
  }

  it.each(LISTED)('answers %s with its own origin and credentials, on the preflight and the request', async (origin) => {
    const before = await preflight(cors.url, origin);
    expect(before.status).toBe(204);
    expect(before.headers.get('access-control-allow-origin')).toBe(origin);
    expect(before.headers.get('access-control-allow-credentials')).toBe('true');
    expect(before.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(before.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(vary(before)).toContain('origin');
    const response = await query(cors.url, origin);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(vary(response)).toContain('origin');
  });

  it.each(['https://evil.example.com', 'null', 'https://app.example.com.evil.example', 'http://127.0.0.1:5174', 'HTTPS://APP.EXAMPLE.COM'])(
    'gives %s no CORS header at all, on the preflight and the request, and says the answer varies by Origin',
    async (origin) => {
      const before = await preflight(cors.url, origin);
      expect(corsHeaders(before)).toEqual([]);
      expect(vary(before)).toContain('origin');
      const response = await query(cors.url, origin);
      expect(corsHeaders(response)).toEqual([]);
      expect(vary(response)).toContain('origin');
    },
  );

  it('says Vary: Origin on answers to requests without an Origin too', async () => {
    const response = await query(cors.url);
    expect(corsHeaders(response)).toEqual([]);
    expect(vary(response)).toContain('origin');
  });

  it('with a single listed origin, answers only that one and varies by Origin', async () => {
    const other = await preflight(app.url, 'https://evil.example.com');
    expect(corsHeaders(other)).toEqual([]);
    expect(vary(other)).toContain('origin');
    const otherQuery = await query(app.url, 'https://evil.example.com');
    expect(corsHeaders(otherQuery)).toEqual([]);
    const listed = await query(app.url, 'http://allowed.test');
    expect(listed.headers.get('access-control-allow-origin')).toBe('http://allowed.test');
    expect(vary(listed)).toContain('origin');
  });

  it('without CORS_ORIGINS, answers no origin', async () => {
    const plain = await startTestApp();
    try {
      expect(corsHeaders(await preflight(plain.url, 'https://app.example.com'))).toEqual([]);
      expect(corsHeaders(await query(plain.url, 'https://app.example.com'))).toEqual([]);
    } finally {
      await plain.stop();
    }
  });
});
