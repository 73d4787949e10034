import { GraphQLError } from 'graphql';
import {
  EmailNotVerifiedError,
  InvalidArgumentError,
  InvalidCredentialsError,
  InvalidSecondFactorError,
  InvalidTokenError,
  NotFoundError,
  ValidationError,
  type FieldError,
} from '../errors.ts';
import { builder } from './builder.ts';

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldErrorType = builder.objectRef<FieldError>('FieldError').implement({
  fields: (t) => ({
    field: t.exposeString('field'),
    messages: t.exposeStringList('messages'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ fieldErrors: t.field({ type: [FieldErrorType], resolve: (error) => error.fieldErrors }) }),
});

for (const [errorClass, name] of [
  [InvalidCredentialsError, 'InvalidCredentialsError'],
  [InvalidTokenError, 'InvalidTokenError'],
  [NotFoundError, 'NotFoundError'],
  [InvalidSecondFactorError, 'InvalidSecondFactorError'],
  [EmailNotVerifiedError, 'EmailNotVerifiedError'],
] as const) {
  builder.objectType(errorClass, { name, interfaces: [ErrorInterface], isTypeOf: (value) => value instanceof errorClass });
}

/** A request whose arguments break the schema's rules (page size, cursor, id format). */
export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** A domain call whose InvalidArgumentError (a fault of the request) answers BAD_USER_INPUT. */
export async function badUserInputFor<T>(result: Promise<T>): Promise<T> {
  try {
    return await result;
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw badUserInput(error.message);
    throw error;
  }
}
