import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postgresSchema } from '../scripts/postgresSchema.ts';
import { printedSchema } from '../src/schema/index.ts';

describe('schema.graphql', () => {
  it('is the schema the code builds (run `npm run schema:print` after changing the schema)', () => {
    const committed = fs.readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printedSchema());
  });

  it('offers no way to select a password or its hash', () => {
    expect(printedSchema()).not.toMatch(/password(Hash)?\s*:\s*String!?\s*$(?![\s\S]*input)/im);
    const userType = printedSchema().match(/^type User \{[\s\S]*?^\}/m)?.[0];
    expect(userType).toBeDefined();
    expect(userType).not.toMatch(/password|hash/i);
  });

  it('has no node/nodes query that would bypass the staff checks', () => {
    expect(printedSchema()).not.toMatch(/^\s+nodes?\(/m);
  });
});

describe('prisma/postgresql/schema.prisma', () => {
  it('is derived from prisma/schema.prisma (run `npm run db:derive` after changing it)', () => {
    const source = fs.readFileSync(new URL('../prisma/schema.prisma', import.meta.url), 'utf8');
    const derived = fs.readFileSync(new URL('../prisma/postgresql/schema.prisma', import.meta.url), 'utf8');
    expect(derived).toBe(postgresSchema(source));
  });

  it('differs from the source only in provider and client output', () => {
    const derived = fs.readFileSync(new URL('../prisma/postgresql/schema.prisma', import.meta.url), 'utf8');
    expect(derived).toContain('provider = "postgresql"');
    expect(derived).toContain('../../src/generated/prisma-postgresql');
    expect(derived).not.toContain('sqlite');
    expect(derived.match(/^model \w+/gm)).toEqual(
      fs.readFileSync(new URL('../prisma/schema.prisma', import.meta.url), 'utf8').match(/^model \w+/gm),
    );
  });
});
