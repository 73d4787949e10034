import fs from 'node:fs';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ALIASES, MAX_COST, MAX_DEPTH, MAX_DIRECTIVES, MAX_TOKENS } from '../src/queryLimits.ts';
import { graphql } from './generated/gql.ts';
import { startTestApp, TEST_PASSWORD, type GraphQLResponse, type TestApp } from './helpers/app.ts';
import { Me } from './operations/auth.ts';
import { Users } from './operations/users.ts';
import { staffMember } from './helpers/actors.ts';

// The largest pages an admin panel can ask for, with every field (users: the shared Users with
// first: 100), must stay under the cost limit.
const LimitsFullAuditPage = graphql(`
  query LimitsFullAuditPage {
    authEvents(first: 100) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        cursor
        node {
          id
          kind
          at
          email
          ipAddress
          userAgent
          user {
            ...UserFields
          }
          actor {
            ...UserFields
          }
        }
      }
    }
  }
`);

// A dashboard comparing filtered counts: a few aliases are fine.
const LimitsDashboard = graphql(`
  query LimitsDashboard {
    everyone: users {
      totalCount
    }
    staff: users(filter: { isStaff: true }) {
      totalCount
    }
    inactive: users(filter: { isActive: false }) {
      totalCount
    }
  }
`);

const PRODUCTION = {
  NODE_ENV: 'production',
  SESSION_SECRET: 's'.repeat(40),
  JWT_SECRET: 'j'.repeat(40),
  TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
};

const times = (count: number, make: (index: number) => string) => Array.from({ length: count }, (_, i) => make(i)).join(' ');
/** `ofType { ofType { ... inner ... } }`, `count` levels deep. */
const ofTypes = (count: number, inner: string) => 'ofType { '.repeat(count) + inner + ' }'.repeat(count);
const FULL_USER_PAGE = `users(first: 100) {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id email firstName lastName isStaff isActive dateJoined lastLogin } }
}`;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

/** A refusal by a limit: one clear BAD_USER_INPUT error naming the limit, nothing executed. */
function expectRefused(result: GraphQLResponse<unknown>, message: RegExp) {
  expect(result.data).toBeUndefined();
  expect(result.errors).toEqual([expect.objectContaining({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } })]);
  expect(result.errors?.[0]?.message).not.toMatch(/Syntax Error|Unexpected error/);
}

async function expectStillServing(target = app) {
  const result = await target.client().request(Me);
  expect(result).toMatchObject({ status: 200, data: { me: null } });
  expect(result.errors).toBeUndefined();
}

describe('depth', () => {
  it(`refuses a selection deeper than ${MAX_DEPTH}`, async () => {
    const result = await app.client().raw(`{ __type(name: "User") { fields { type { ${ofTypes(6, 'name')} } } } }`);
    expectRefused(result, new RegExp(`^Query depth limit of ${MAX_DEPTH} exceeded, found 10\\.$`));
    await expectStillServing();
  });

  it('counts depth hidden in nested named fragments', async () => {
    const fragments = times(MAX_DEPTH, (i) => `fragment T${i} on __Type { ofType { ...T${i + 1} } }`);
    const result = await app.client().raw(`{ __type(name: "User") { ...T0 } } ${fragments} fragment T${MAX_DEPTH} on __Type { name }`);
    expectRefused(result, new RegExp(`^Query depth limit of ${MAX_DEPTH} exceeded, found ${MAX_DEPTH + 2}\\.$`));
    await expectStillServing();
  });

  it('counts a fragment again when it is reused deeper (GHSA-224p-v68g-5g8f)', async () => {
    const result = await app.client().raw(`
      { __type(name: "User") { ...Deep fields { type { ofType { ofType { ...Deep } } } } } }
      fragment Deep on __Type { ${ofTypes(3, 'name')} }
    `);
    expectRefused(result, /^Query depth limit of \d+ exceeded, found 9\.$/);
  });

  it('does not exempt a fragment or operation merely named __schema (GHSA-hmfr-rx46-4jx2)', async () => {
    const result = await app.client().raw(`
      query __schema { __type(name: "User") { fields { type { ...__schema } } } }
      fragment __schema on __Type { ${ofTypes(6, 'name')} }
    `);
    expectRefused(result, /^Query depth limit of \d+ exceeded, found 10\.$/);
  });

  it('ignores inline fragments, which add no nesting to the result', async () => {
    const result = await app.client().raw(`{ me { ${'... on User { '.repeat(12)} id ${'} '.repeat(12)} } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: null });
  });
});

describe('aliases', () => {
  it(`refuses more than ${MAX_ALIASES} aliases`, async () => {
    const result = await app.client().raw(`{ ${times(50, (i) => `me${i}: me { id }`)} }`);
    expectRefused(result, new RegExp(`^Aliases limit of ${MAX_ALIASES} exceeded, found 50\\.$`));
    await expectStillServing();
  });

  it('counts aliases of __typename too (graphql-armor#738)', async () => {
    const result = await app.client().raw(`{ ${times(50, (i) => `t${i}: __typename`)} }`);
    expectRefused(result, /^Aliases limit of \d+ exceeded, found 50\.$/);
  });

  it('counts the aliases of a fragment at every spread', async () => {
    const result = await app.client().raw(`
      { a: me { ...Four } b: me { ...Four } c: me { ...Four } }
      fragment Four on User { w: id x: id y: id z: id }
    `);
    expectRefused(result, /^Aliases limit of \d+ exceeded, found 15\.$/);
  });

  it('runs none of the aliased mutations of a refused request', async () => {
    const count = MAX_ALIASES + 1;
    const result = await app.client().raw(
      `mutation { ${times(count, (i) => `r${i}: register(input: { email: "alias${i}@example.com", password: "${TEST_PASSWORD}" }) { __typename }`)} }`,
    );
    expectRefused(result, new RegExp(`^Aliases limit of ${MAX_ALIASES} exceeded, found ${count}\\.$`));
    expect(await app.services.prisma.user.count({ where: { email: { startsWith: 'alias' } } })).toBe(0);
  });
});

describe('tokens', () => {
  it(`refuses a document of more than ${MAX_TOKENS} tokens`, async () => {
    const result = await app.client().raw(`{ me { ${'id '.repeat(5000)}} }`);
    expectRefused(result, new RegExp(`^Token limit of ${MAX_TOKENS} exceeded\\.$`));
    await expectStillServing();
  });
});

describe('directives', () => {
  it(`refuses more than ${MAX_DIRECTIVES} directives`, async () => {
    const result = await app.client().raw(`{ ${'__typename @include(if: true) '.repeat(100)}}`);
    expectRefused(result, new RegExp(`^Directives limit of ${MAX_DIRECTIVES} exceeded, found 100\\.$`));
    await expectStillServing();
  });
});

describe('cost', () => {
  it(`refuses an operation costing more than ${MAX_COST}, even under the other limits`, async () => {
    const result = await app.client().raw(`{ ${times(5, (i) => `page${i}: ${FULL_USER_PAGE}`)} }`);
    expectRefused(result, new RegExp(`^Query Cost limit of ${MAX_COST} exceeded, found \\d+\\.$`));
    await expectStillServing();
  });

  it('does not exempt an operation named __schema (GHSA-733v-p3h5-qpq7)', async () => {
    const result = await app.client().raw(`query __schema { ${times(5, (i) => `page${i}: ${FULL_USER_PAGE}`)} }`);
    expectRefused(result, /^Query Cost limit of \d+ exceeded/);
  });
});

describe('fragment cycles', () => {
  it('are refused by validation without hanging the server', async () => {
    const result = await app.client().raw('{ ...A } fragment A on Query { me { id } ...B } fragment B on Query { ...A }');
    expect(result.data).toBeUndefined();
    expect(result.errors?.map((error) => error.message)).toContain('Cannot spread fragment "A" within itself via "B".');
    await expectStillServing();
  });
});

describe('legitimate operations in development', () => {
  it('accepts every operation of the README', async () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);
    // Top-level operations start at the beginning of a line.
    const operations = blocks.flatMap((block) => block.split(/\n(?=query|mutation)/)).map((operation) => operation.trim());
    const snippets = [...readme.matchAll(/`(mutation\(\$t: String!\)[\s\S]*?)`/g)].map((match) => match[1]!);
    expect(operations.length).toBeGreaterThanOrEqual(7);
    expect(snippets.length).toBeGreaterThanOrEqual(1);

    // The README's staff operations run as a staff member, and so do its set-up of an authenticator
    // app (Ada is deactivated by then); the rest as Ada.
    await app.createUser({ email: 'readme-staff@example.com', isStaff: true });
    const staff = app.client();
    await staff.login('readme-staff@example.com', TEST_PASSWORD);
    const ada = app.client();
    for (const operation of operations) {
      const client = /users\(|updateUser|TotpSetup/.test(operation) ? staff : ada;
      const result = await client.raw(operation);
      expect({ operation, errors: result.errors }).toEqual({ operation, errors: undefined });
      expect(result.data).toBeTruthy();
    }
    for (const snippet of snippets) {
      const result = await ada.raw(snippet, { t: 'not-a-token' });
      expect({ snippet, errors: result.errors }).toEqual({ snippet, errors: undefined });
    }
  });

  it('accepts the largest pages of users and audit events with every field, and a few aliases', async () => {
    const staff = await staffMember(app, 'page-staff@example.com');
    const page = await staff.request(Users, { first: 100 });
    expect(page.errors).toBeUndefined();
    expect(page.data?.users.totalCount).toBeGreaterThan(0);
    const audit = await staff.request(LimitsFullAuditPage);
    expect(audit.errors).toBeUndefined();
    expect(audit.data?.authEvents.totalCount).toBeGreaterThan(0);
    const dashboard = await staff.request(LimitsDashboard);
    expect(dashboard.errors).toBeUndefined();
    expect(dashboard.data?.staff.totalCount).toBeGreaterThan(0);
  });

  it.each([
    ['default', getIntrospectionQuery()],
    [
      'with every option GraphiQL can ask for',
      getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
        oneOf: true,
      }),
    ],
  ])('answers the introspection query (%s)', async (_name, query) => {
    const result = await app.client().raw(query);
    expect(result.errors).toBeUndefined();
    expect(result.data.__schema.queryType).toEqual({ name: 'Query', kind: 'OBJECT' });
    expect(result.data.__schema.types.map((type: { name: string }) => type.name)).toContain('User');
  });
});

describe('field suggestions', () => {
  const misspelled = {
    field: '{ me { emial } }',
    enumValue: '{ users(orderBy: { field: EMAL, direction: ASC }) { totalCount } }',
    variable: 'mutation ($input: RegisterInput!) { register(input: $input) { __typename } }',
  };
  const variables = { input: { emial: 'x@example.com', password: TEST_PASSWORD } };

  async function messages(target: TestApp) {
    const client = target.client();
    const results = [
      await client.raw(misspelled.field),
      await client.raw(misspelled.enumValue),
      await client.raw(misspelled.variable, variables),
    ];
    return results.map((result) => (result.errors ?? []).map((error) => error.message).join('\n'));
  }

  it('are offered in development', async () => {
    const [field, enumValue, variable] = await messages(app);
    expect(field).toContain('Cannot query field "emial" on type "User". Did you mean "email"?');
    expect(enumValue).toContain('Did you mean the enum value "EMAIL"?');
    expect(variable).toContain('Field "emial" is not defined by type "RegisterInput". Did you mean "email"?');
  });

  describe('in production', () => {
    let production: TestApp;
    beforeAll(async () => {
      production = await startTestApp(PRODUCTION);
    });
    afterAll(() => production?.stop());

    it('are hidden, from field, enum value and variable errors alike', async () => {
      const [field, enumValue, variable] = await messages(production);
      expect(field).toContain('Cannot query field "emial" on type "User". [Suggestion hidden]');
      expect(enumValue).toContain('Value "EMAL" does not exist in "UserOrderField" enum. [Suggestion hidden]');
      expect(variable).toContain('Field "emial" is not defined by type "RegisterInput". [Suggestion hidden]');
      for (const message of [field, enumValue, variable]) expect(message).not.toMatch(/Did you mean/);
      expect(enumValue).not.toContain('"EMAIL"');
    });

    it('apply the same limits', async () => {
      const result = await production.client().raw(`{ ${times(50, (i) => `me${i}: me { id }`)} }`);
      expectRefused(result, /^Aliases limit of \d+ exceeded, found 50\.$/);
      await expectStillServing(production);
    });
  });
});
