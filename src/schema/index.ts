import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './user.ts';
import './auth.ts';
import './account.ts';
import './tokens.ts';
import './passwordReset.ts';
import './audit.ts';

export const schema = builder.toSchema();

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
