import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_RATES, type LimitName, type Rate, type Rates } from './rates.ts';
import { readTrustedDocuments, TrustedDocumentsError, type TrustedDocuments } from './trustedDocuments.ts';
import { developmentSigningKey, parseSigningKeys, SigningKeyError, type SigningKey } from './signingKeys.ts';

export type DatabaseProvider = 'sqlite' | 'postgresql';

export function databaseProvider(databaseUrl: string): DatabaseProvider {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgresql' : 'sqlite';
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** BCRYPT_IMPLEMENTATION: `auto` uses the native `bcrypt` package when it loads, else bcryptjs. */
export type BcryptPreference = 'auto' | 'native' | 'bcryptjs';
const BCRYPT_PREFERENCES: readonly BcryptPreference[] = ['auto', 'native', 'bcryptjs'];

export interface Config {
  production: boolean;
  port: number;
  host: string;
  databaseUrl: string;
  databaseProvider: DatabaseProvider;
  /**
   * Where migrations are applied: DIRECT_DATABASE_URL, or DATABASE_URL. Behind PgBouncer in
   * transaction mode they need a direct connection (their advisory lock is a session's).
   */
  migrationDatabaseUrl: string;
  /** Connections per process (PostgreSQL). */
  databasePoolSize: number;
  /** Where development secrets and the default SQLite file live. */
  dataDir: string;
  /** The first signs; all verify, so secrets can be rotated. */
  sessionSecrets: string[];
  /** Asymmetric access-token keys: the first signs, all verify and are published. */
  jwtSigningKeys: SigningKey[];
  /**
   * HS256 secrets (JWT_SECRET): they verify while configured, and sign only when there is no
   * asymmetric key (a production upgraded without JWT_SIGNING_KEYS).
   */
  jwtSecrets: string[];
  jwtIssuer: string;
  jwtAudience: string;
  corsOrigins: string[];
  trustProxy: boolean | number | string;
  smtpUrl: string | undefined;
  mailFrom: string;
  passwordResetUrl: string;
  /** Link in verification and email-change mails; `{token}` is replaced. */
  emailVerificationUrl: string;
  /** Unverified accounts cannot sign in (EmailNotVerifiedError after a right password). */
  requireVerifiedEmail: boolean;
  bcryptCost: number;
  bcryptImplementation: BcryptPreference;
  rateLimits: boolean;
  rateLimitRates: Rates;
  auditRetentionMs: number;
  logLevel: LogLevel;
  sessionMaxAgeMs: number;
  sessionCookieName: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlMs: number;
  /** Size of the password hashing worker pool (of each process). */
  hashWorkers: number;
  /** Password checks queued beyond this much work are refused at once (RATE_LIMITED). */
  hashQueueMaxWaitMs: number;
  /** Processes serving requests (node:cluster workers sharing the port); 1 serves from this process. */
  webConcurrency: number;
  /** TRUSTED_DOCUMENTS: the only documents that run (staff excepted), by hash; null runs any document. */
  trustedDocuments: TrustedDocuments | null;
  /** How long a start waits for another process to let go of the database when migrations are pending. */
  migrationLockWaitSeconds: number;
  /** AES-256 keys for TOTP secrets at rest: the first encrypts, every one decrypts (rotation). */
  totpEncryptionKeys: Buffer[];
  /** The issuer authenticator apps show next to the account. */
  totpIssuer: string;
  webauthn: WebAuthnConfig;
}

/** The passkeys' relying party. */
export interface WebAuthnConfig {
  rpId: string;
  rpName: string;
  /** Origins whose pages may register and use passkeys (scheme, host and port). */
  origins: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * A security setting, not a speed one: each guess costs twice OWASP's minimum of 10 while a login
 * stays near 100 ms on the reference machine (README "Why bcrypt cost 11"; docs/performance.md).
 */
export const DEFAULT_BCRYPT_COST = 11;
const MIN_SECRET_LENGTH = 32;
/** Password hashing threads of the whole service when HASH_WORKERS is not set. */
const DEFAULT_HASH_THREADS = 2;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** How long a start waits, by default, for another process to let go of the database. */
export const DEFAULT_MIGRATION_LOCK_WAIT_SECONDS = 120;

type Env = Record<string, string | undefined>;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['true', '1', 'on', 'yes'].includes(raw)) return true;
  if (['false', '0', 'off', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function linkTemplate(env: Env, name: string, fallback: string): string {
  const template = env[name]?.trim() || fallback;
  if (!template.includes('{token}')) throw new ConfigError(`${name} must contain {token}`);
  return template;
}

/** Checked here because nodemailer, which reads it, loads only at the first mail. */
function smtpUrl(env: Env): string | undefined {
  const raw = env.SMTP_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SMTP_URL must be a URL such as smtp://user:password@host:587 or smtps://host:465');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError(`SMTP_URL must start with smtp:// or smtps://, got ${url.protocol}//`);
  if (!url.hostname) throw new ConfigError('SMTP_URL must name a host');
  return raw;
}

function parseTrustProxy(raw: string | undefined): boolean | number | string {
  const value = raw?.trim();
  if (!value || value === 'false' || value === '0' || value === 'off') return false;
  if (value === 'true' || value === 'on') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/**
 * Development secrets are generated once and kept in the data folder, so sessions survive a
 * restart without anyone having to configure anything.
 */
function developmentSecret(dataDir: string, name: string): string {
  const file = path.join(dataDir, `${name}.secret`);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(32).toString('base64url');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, secret, { mode: 0o600 });
    return secret;
  }
}

function secrets(env: Env, name: string, production: boolean, dataDir: string): string[] {
  const values = list(env[name]);
  if (values.length === 0) {
    if (production) {
      throw new ConfigError(`${name} must be set in production (at least ${MIN_SECRET_LENGTH} characters)`);
    }
    return [developmentSecret(dataDir, name.toLowerCase())];
  }
  if (production && values.some((value) => value.length < MIN_SECRET_LENGTH)) {
    throw new ConfigError(`${name} must be at least ${MIN_SECRET_LENGTH} characters long in production`);
  }
  return values;
}

function trustedDocuments(env: Env): TrustedDocuments | null {
  const file = env.TRUSTED_DOCUMENTS?.trim();
  if (!file) return null;
  try {
    return readTrustedDocuments(path.resolve(file));
  } catch (error) {
    if (error instanceof TrustedDocumentsError) throw new ConfigError(`TRUSTED_DOCUMENTS: ${error.message}`);
    throw error;
  }
}

/**
 * The access-token keys. JWT_SIGNING_KEYS when set; otherwise JWT_SECRET alone signs HS256 tokens as
 * before (production upgrades sign nobody out); otherwise development generates an Ed25519 key,
 * and production refuses to start.
 */
function accessTokenKeys(env: Env, production: boolean, dataDir: string): { jwtSigningKeys: SigningKey[]; jwtSecrets: string[] } {
  const raw = env.JWT_SIGNING_KEYS?.trim();
  let jwtSigningKeys: SigningKey[] = [];
  if (raw) {
    try {
      jwtSigningKeys = parseSigningKeys(raw);
    } catch (error) {
      if (error instanceof SigningKeyError) throw new ConfigError(error.message);
      throw error;
    }
  }
  const configuredSecrets = list(env.JWT_SECRET);
  if (jwtSigningKeys.length === 0 && configuredSecrets.length === 0) {
    if (production) {
      throw new ConfigError(
        'JWT_SIGNING_KEYS must be set in production (an Ed25519 or P-256 private key, JWK or PEM; e.g. `openssl genpkey -algorithm ed25519`), or the older JWT_SECRET',
      );
    }
    // Tokens signed with an earlier development secret keep working while they live.
    const earlier = existingDevelopmentSecret(dataDir, 'jwt_secret');
    return { jwtSigningKeys: [developmentSigningKey(dataDir)], jwtSecrets: earlier ? [earlier] : [] };
  }
  if (production && configuredSecrets.some((value) => value.length < MIN_SECRET_LENGTH)) {
    throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters long in production`);
  }
  return { jwtSigningKeys, jwtSecrets: configuredSecrets };
}

function existingDevelopmentSecret(dataDir: string, name: string): string | null {
  try {
    return fs.readFileSync(path.join(dataDir, `${name}.secret`), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function claimValue(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim() || fallback;
  if (value.length > 256) throw new ConfigError(`${name} must be at most 256 characters`);
  return value;
}

/** `TOTP_ENCRYPTION_KEY`: 32 random bytes each, base64 (`openssl rand -base64 32`), comma-separated. */
function encryptionKeys(env: Env, production: boolean, dataDir: string): Buffer[] {
  const name = 'TOTP_ENCRYPTION_KEY';
  const values = list(env[name]);
  if (values.length === 0) {
    if (production) throw new ConfigError(`${name} must be set in production (32 random bytes, base64: openssl rand -base64 32)`);
    values.push(developmentSecret(dataDir, name.toLowerCase()));
  }
  return values.map((value) => {
    const key = Buffer.from(value, 'base64');
    if (key.length !== 32) throw new ConfigError(`${name} must be 32 bytes in base64 (openssl rand -base64 32), each of them`);
    return key;
  });
}

function webauthnConfig(env: Env): WebAuthnConfig {
  const origins = list(env.WEBAUTHN_ORIGINS);
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(`WEBAUTHN_ORIGINS must list origins such as https://app.example.com (no path or trailing slash), got "${origin}"`);
    }
  }
  return {
    rpId: env.WEBAUTHN_RP_ID?.trim() || 'localhost',
    rpName: env.WEBAUTHN_RP_NAME?.trim() || 'Auth API',
    origins: origins.length > 0 ? origins : ['http://localhost:4000', 'http://localhost:3000'],
  };
}

function databaseUrl(env: Env, dataDir: string): string {
  const url = env.DATABASE_URL?.trim() || `file:${path.join(dataDir, 'app.db')}`;
  if (!/^(file:|postgres(ql)?:\/\/)/.test(url)) {
    throw new ConfigError(`DATABASE_URL must be "file:PATH" (SQLite) or "postgresql://..." (PostgreSQL), got "${url.split(':')[0]}:..."`);
  }
  return url;
}

function migrationDatabaseUrl(env: Env, url: string): string {
  const direct = env.DIRECT_DATABASE_URL?.trim();
  const pooled = /^postgres(ql)?:\/\//.test(url) && new URL(url).searchParams.get('pgbouncer') === 'true';
  if (direct && !/^postgres(ql)?:\/\//.test(direct)) {
    throw new ConfigError('DIRECT_DATABASE_URL must be a "postgresql://..." URL (a direct connection to the server behind PgBouncer)');
  }
  if (pooled && !direct) {
    throw new ConfigError(
      'DATABASE_URL has pgbouncer=true: set DIRECT_DATABASE_URL to a direct connection to PostgreSQL for migrations (PgBouncer in transaction mode cannot hold their lock)',
    );
  }
  return direct || url;
}

/** `RATE_LIMIT_EMAIL_IP_FAILURES=5/900`: 5 per 900 seconds. */
function rates(env: Env): Rates {
  const entries = (Object.entries(DEFAULT_RATES) as [LimitName, Rate][]).map(([name, fallback]): [LimitName, Rate] => {
    const variable = `RATE_LIMIT_${name.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`;
    const raw = env[variable]?.trim();
    if (!raw) return [name, fallback];
    const match = /^(\d+)\s*\/\s*(\d+)$/.exec(raw);
    const [points, seconds] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
    if (points < 1 || seconds < 1) {
      throw new ConfigError(`${variable} must look like POINTS/SECONDS (e.g. 5/900), got "${raw}"`);
    }
    return [name, { points, seconds }];
  });
  return Object.fromEntries(entries) as Rates;
}

export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const dataDir = path.resolve(env.DATA_DIR?.trim() || 'data');

  const bcryptImplementation = (env.BCRYPT_IMPLEMENTATION?.trim() || 'auto') as BcryptPreference;
  if (!BCRYPT_PREFERENCES.includes(bcryptImplementation)) {
    throw new ConfigError(`BCRYPT_IMPLEMENTATION must be one of ${BCRYPT_PREFERENCES.join(', ')}, got "${bcryptImplementation}"`);
  }
  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const rateLimits = env.RATE_LIMITS?.trim().toLowerCase();

  const url = databaseUrl(env, dataDir);
  const webConcurrency = integer(env, 'WEB_CONCURRENCY', 1, 1, 64);
  return {
    production,
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    databaseUrl: url,
    databaseProvider: databaseProvider(url),
    migrationDatabaseUrl: migrationDatabaseUrl(env, url),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    dataDir,
    sessionSecrets: secrets(env, 'SESSION_SECRET', production, dataDir),
    ...accessTokenKeys(env, production, dataDir),
    jwtIssuer: claimValue(env, 'JWT_ISSUER', 'auth-api'),
    jwtAudience: claimValue(env, 'JWT_AUDIENCE', 'auth-api'),
    corsOrigins: list(env.CORS_ORIGINS),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    smtpUrl: smtpUrl(env),
    mailFrom: env.MAIL_FROM?.trim() || 'no-reply@localhost',
    passwordResetUrl: linkTemplate(env, 'PASSWORD_RESET_URL', 'http://localhost:3000/reset-password?token={token}'),
    emailVerificationUrl: linkTemplate(env, 'EMAIL_VERIFICATION_URL', 'http://localhost:3000/verify-email?token={token}'),
    requireVerifiedEmail: flag(env, 'REQUIRE_VERIFIED_EMAIL', false),
    bcryptCost: integer(env, 'BCRYPT_COST', DEFAULT_BCRYPT_COST, 10, 14),
    bcryptImplementation,
    rateLimits: rateLimits !== 'off',
    rateLimitRates: rates(env),
    auditRetentionMs: integer(env, 'AUDIT_RETENTION_DAYS', 180, 1, 3650) * 24 * 60 * 60 * 1000,
    logLevel,
    sessionCookieName: 'sid',
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 15 * 60, 1, 24 * 60 * 60),
    refreshTokenTtlMs: integer(env, 'REFRESH_TOKEN_TTL_DAYS', 30, 1, 365) * 24 * 60 * 60 * 1000,
    sessionMaxAgeMs: integer(env, 'SESSION_MAX_AGE_DAYS', 14, 1, 365) * 24 * 60 * 60 * 1000,
    // Two hashing threads in all by default, shared out among the processes (at least one each).
    hashWorkers: integer(env, 'HASH_WORKERS', Math.max(1, Math.round(DEFAULT_HASH_THREADS / webConcurrency)), 1, 64),
    hashQueueMaxWaitMs: integer(env, 'HASH_QUEUE_MAX_WAIT_SECONDS', 10, 1, 600) * 1000,
    webConcurrency,
    trustedDocuments: trustedDocuments(env),
    migrationLockWaitSeconds: integer(env, 'MIGRATION_LOCK_WAIT_SECONDS', DEFAULT_MIGRATION_LOCK_WAIT_SECONDS, 0, 3600),
    totpEncryptionKeys: encryptionKeys(env, production, dataDir),
    totpIssuer: env.TOTP_ISSUER?.trim() || 'Auth API',
    webauthn: webauthnConfig(env),
  };
}
