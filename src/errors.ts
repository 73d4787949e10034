/** Expected outcomes of an operation; the schema turns each into a member of a result union. */

export interface FieldError {
  field: string;
  messages: string[];
}

/** Every failing input field at once, like a form. */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(readonly fieldErrors: FieldError[]) {
    super('Some fields are not valid.');
  }

  /** Throws when any field has problems. */
  static check(problems: Record<string, string[]>): void {
    const fieldErrors = Object.entries(problems)
      .filter(([, messages]) => messages.length > 0)
      .map(([field, messages]) => ({ field, messages }));
    if (fieldErrors.length > 0) throw new ValidationError(fieldErrors);
  }
}

export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError';
  constructor() {
    super('Invalid credentials');
  }
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
  constructor() {
    super('The token is invalid or has expired.');
  }
}

/** The password was right, but REQUIRE_VERIFIED_EMAIL is on and the address is not verified yet. */
export class EmailNotVerifiedError extends Error {
  override name = 'EmailNotVerifiedError';
  constructor() {
    super('Verify your email address first: open the link we mailed you.');
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(what = 'User') {
    super(`${what} not found.`);
  }
}

/** A wrong TOTP code, recovery code or passkey answer. */
export class InvalidSecondFactorError extends Error {
  override name = 'InvalidSecondFactorError';
  constructor() {
    super('Invalid code');
  }
}

/**
 * An argument outside the API's rules (a search text too long, a malformed role name): a fault of
 * the request rather than an outcome, so the schema answers it with BAD_USER_INPUT, not a union member.
 */
export class InvalidArgumentError extends Error {
  override name = 'InvalidArgumentError';
}
