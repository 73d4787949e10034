import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    // Belt and braces: nothing should log these, and if something does they are blanked.
    redact: {
      paths: ['password', '*.password', 'newPassword', '*.newPassword', 'passwordHash', '*.passwordHash', 'headers.cookie', 'headers.authorization', '*.headers.cookie', '*.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
