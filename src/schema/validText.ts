import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { GraphQLError, type GraphQLFieldResolver } from 'graphql';
import { ValidationError, type FieldError } from '../errors.ts';
import { findTextProblems, type TextProblem } from '../text.ts';

/**
 * Refuses arguments that are not text (src/text.ts) before any resolver sees them, on every field:
 * as a `ValidationError` on the input field where the field's result has that member, otherwise
 * as `BAD_USER_INPUT`. Nothing behind the schema (the domain, the audit log, the rate-limit keys,
 * the database) then has to cope with them. Listed last among the plugins, its check runs inside
 * the others': authorization first, and the errors plugin turns the ValidationError into the
 * union member.
 */
export class ValidTextPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (Object.keys(fieldConfig.args).length === 0) return resolver;
    const errorTypes = fieldConfig.extensions?.pothosErrors as unknown[] | undefined;
    const asValidationError = errorTypes?.includes(ValidationError) ?? false;
    return (parent, args, context, info) => {
      const problems = findTextProblems(args as Record<string, unknown>);
      if (problems.length === 0) return resolver(parent, args, context, info);
      if (asValidationError) throw new ValidationError(fieldErrors(problems, args as Record<string, unknown>));
      const [first] = problems;
      throw new GraphQLError(`${first!.path.join('.')}: ${first!.message}`, { extensions: { code: 'BAD_USER_INPUT' } });
    };
  }
}

/** An input object's problems belong to its fields (`input.email` is `email`), others to the argument. */
function fieldErrors(problems: TextProblem[], args: Record<string, unknown>): FieldError[] {
  const byField = new Map<string, string[]>();
  for (const { path, message } of problems) {
    const [argument, inner] = path;
    const value = args[argument as string];
    const field = typeof inner === 'string' && value !== null && typeof value === 'object' && !Array.isArray(value) ? inner : String(argument);
    const messages = byField.get(field) ?? [];
    if (!messages.includes(message)) messages.push(message);
    byField.set(field, messages);
  }
  return [...byField].map(([field, messages]) => ({ field, messages }));
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      validText: ValidTextPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin('validText', ValidTextPlugin);

export default 'validText' as const;
