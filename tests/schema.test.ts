import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postgresSchema } from '../scripts/postgresSchema.ts';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';
import { printedSchema, printedSubgraphSchema, publicSchema, schema } from '../src/schema/index.ts';

describe('schema.graphql', () => {
  it('is the schema the code builds (run `npm run schema:print` after changing the schema)', () => {
    const committed = fs.readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printedSchema());
  });

  it('offers no way to select a password or its hash', () => {
    // Every field of every output type, and its arguments, by name: a password or hash field
    // anywhere in the output would let a client read it. Mutations are named for what they do
    // (changePassword), so only their arguments and results are checked.
    const outputFields: string[] = [];
    const inputFields: string[] = [];
    const enumValues: string[] = [];
    // `Type.field` or `Type.field(argument)`: the name being checked.
    const leaf = (label: string) => label.match(/\((\w+)\)$/)?.[1] ?? label.split('.')[1]!;
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (type !== schema.getMutationType()) outputFields.push(`${type.name}.${field.name}`);
          for (const arg of field.args) inputFields.push(`${type.name}.${field.name}(${arg.name})`);
        }
      } else if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) inputFields.push(`${type.name}.${field.name}`);
      } else if (isEnumType(type)) {
        for (const value of type.getValues()) enumValues.push(`${type.name}.${value.name}`);
      }
    }
    expect(outputFields.length).toBeGreaterThan(20);
    expect(outputFields.filter((name) => /password|hash/i.test(leaf(name)))).toEqual([]);
    expect(outputFields).toContain('User.email');
    // Inputs take passwords (that is how they are set), but never a hash, and only these do: a
    // password field in a filter or order would let staff probe passwords.
    expect(inputFields.filter((name) => /hash/i.test(leaf(name)))).toEqual([]);
    expect(inputFields.filter((name) => /password/i.test(leaf(name))).sort()).toEqual([
      'ChangeEmailInput.currentPassword',
      'ChangePasswordInput.currentPassword',
      'ChangePasswordInput.newPassword',
      'CreateUserInput.password',
      'LoginInput.password',
      'Mutation.disableTotp(currentPassword)',
      'Mutation.regenerateRecoveryCodes(currentPassword)',
      'Mutation.removePasskey(currentPassword)',
      'RegisterInput.password',
      'ResetPasswordInput.newPassword',
      'UpdateUserInput.password',
    ]);
    // No ordering or filtering by a password or hash either.
    expect(enumValues.filter((name) => /hash|\.PASSWORD$/i.test(name))).toEqual([]);
  });

  it('has no node/nodes query that would bypass the staff checks', () => {
    expect(printedSchema()).not.toMatch(/^\s+nodes?\(/m);
  });
});

describe('schema.graphql and the served subgraph schema', () => {
  it('differ exactly by federation\'s _entities, _service and their types', () => {
    const served = schema.getTypeMap();
    const shown = publicSchema().getTypeMap();
    expect(Object.keys(served).filter((name) => !(name in shown)).sort()).toEqual(['_Any', '_Entity', '_Service']);
    expect(Object.keys(shown).filter((name) => !(name in served))).toEqual([]);
    const servedQuery = Object.keys(schema.getQueryType()!.getFields());
    const shownQuery = Object.keys(publicSchema().getQueryType()!.getFields());
    expect(servedQuery.filter((name) => !shownQuery.includes(name)).sort()).toEqual(['_entities', '_service']);
    expect(shownQuery.filter((name) => !servedQuery.includes(name))).toEqual([]);
    expect(printedSchema()).not.toMatch(/\b_(entities|service|Any|Entity|Service)\b|@link|@key/);
  });
});

describe('schema.subgraph.graphql', () => {
  it('is the subgraph SDL the code builds (run `npm run schema:print` after changing the schema)', () => {
    const committed = fs.readFileSync(new URL('../schema.subgraph.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printedSubgraphSchema());
  });

  it('links Federation v2 and makes User an entity keyed by id', () => {
    const sdl = printedSubgraphSchema();
    expect(sdl).toMatch(/^schema @link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+", import: \["@key"\]\)/);
    expect(sdl).toMatch(/^type User @key\(fields: "id"\) \{$/m);
    expect(sdl.match(/@key/g)).toHaveLength(2);
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
