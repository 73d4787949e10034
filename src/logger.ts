import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export interface LoggedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: LoggedError;
}

/**
 * What the log keeps of an error: its type, message, code and stack, and the same of its cause.
 * Driver errors carry much more as enumerable properties, which pino would print whole: `pg` attaches
 * the connection (`client`, with user, database, host and its prepared statements' SQL), Prisma its
 * `meta` and the adapter's details. None of that belongs in a log line, so it is left out here, in
 * the one place every logged `err` passes through.
 */
export function serializeError(error: unknown, depth = 0): LoggedError | unknown {
  if (!(error instanceof Error)) {
    if (error && typeof error === 'object' && depth > 0) {
      // A cause that is a plain object, such as Prisma's DriverAdapterError's { kind, code, message }.
      const { kind, code, message } = error as Record<string, unknown>;
      return { type: typeof kind === 'string' ? kind : 'Object', message: typeof message === 'string' ? message : '', ...codeOf(code) };
    }
    return error;
  }
  const { code, cause } = error as Error & { code?: unknown };
  const logged: LoggedError = { type: error.name, message: error.message, ...codeOf(code), stack: error.stack };
  if (cause !== undefined && depth < 3) logged.cause = serializeError(cause, depth + 1) as LoggedError;
  return logged;
}

function codeOf(code: unknown): { code?: string | number } {
  return typeof code === 'string' || typeof code === 'number' ? { code } : {};
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    serializers: { err: serializeError, error: serializeError },
    // Belt and braces: nothing should log these, and if something does they are blanked.
    redact: {
      paths: ['password', '*.password', 'newPassword', '*.newPassword', 'passwordHash', '*.passwordHash', 'headers.cookie', 'headers.authorization', '*.headers.cookie', '*.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
