import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_BCRYPT_COST, loadConfig } from '../src/config.ts';

const run = promisify(execFile);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-config-'));
}

describe('loadConfig', () => {
  it('has safe development defaults and keeps generated secrets across restarts', () => {
    const dir = tempDir();
    const first = loadConfig({ DATA_DIR: dir });
    expect(first).toMatchObject({
      production: false,
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: `file:${path.join(dir, 'app.db')}`,
      bcryptCost: DEFAULT_BCRYPT_COST,
      bcryptImplementation: 'auto',
      rateLimits: true,
      corsOrigins: [],
      trustProxy: false,
    });
    expect(first.sessionSecrets[0]!.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dir }).sessionSecrets).toEqual(first.sessionSecrets);
    expect(fs.statSync(path.join(dir, 'session_secret.secret')).mode & 0o077).toBe(0);
  });

  it('parses lists, rotation secrets and numbers', () => {
    const config = loadConfig({
      DATA_DIR: tempDir(),
      SESSION_SECRET: 'new-secret, old-secret',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: '1',
      BCRYPT_COST: '12',
      BCRYPT_IMPLEMENTATION: 'bcryptjs',
      RATE_LIMITS: 'off',
      PORT: '8080',
      SMTP_URL: 'smtps://mailer:secret@mail.example:465',
    });
    expect(config.sessionSecrets).toEqual(['new-secret', 'old-secret']);
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config).toMatchObject({ trustProxy: 1, bcryptCost: 12, bcryptImplementation: 'bcryptjs', rateLimits: false, port: 8080 });
    expect(config.smtpUrl).toBe('smtps://mailer:secret@mail.example:465');
  });

  it('applies migrations over DIRECT_DATABASE_URL when given (behind PgBouncer), else over DATABASE_URL', () => {
    const pooled = 'postgresql://u:p@pgbouncer:6432/db?pgbouncer=true';
    const direct = 'postgresql://u:p@db:5432/db';
    expect(loadConfig({ DATA_DIR: tempDir(), DATABASE_URL: pooled, DIRECT_DATABASE_URL: direct })).toMatchObject({ databaseUrl: pooled, migrationDatabaseUrl: direct });
    expect(loadConfig({ DATA_DIR: tempDir(), DATABASE_URL: direct })).toMatchObject({ migrationDatabaseUrl: direct });
  });

  it.each([
    [{ BCRYPT_COST: '9' }, /BCRYPT_COST must be a whole number from 10 to 14/],
    [{ BCRYPT_COST: 'twelve' }, /BCRYPT_COST/],
    [{ PORT: '70000' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ BCRYPT_IMPLEMENTATION: 'fastest' }, /BCRYPT_IMPLEMENTATION must be one of auto, native, bcryptjs, got "fastest"/],
    [{ PASSWORD_RESET_URL: 'https://app.example/reset' }, /\{token\}/],
    [{ DATABASE_URL: 'mysql://localhost/db' }, /DATABASE_URL/],
    [{ SMTP_URL: 'mail.example:587' }, /SMTP_URL must start with smtp:\/\/ or smtps:\/\//],
    [{ SMTP_URL: 'not a url' }, /SMTP_URL must be a URL/],
    [{ SMTP_URL: 'smtp://' }, /SMTP_URL must/],
    [{ DATABASE_URL: 'postgresql://u:p@pgbouncer:6432/db?pgbouncer=true' }, /set DIRECT_DATABASE_URL to a direct connection/],
    [{ DATABASE_URL: 'postgresql://u:p@db/db', DIRECT_DATABASE_URL: 'file:x.db' }, /DIRECT_DATABASE_URL must be a "postgresql:\/\/\.\.\." URL/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: tempDir(), ...env })).toThrow(message);
  });

  it('refuses to run in production without strong secrets', () => {
    const dir = tempDir();
    expect(() => loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(32) })).toThrow(
      /SESSION_SECRET must be set in production/,
    );
    expect(() =>
      loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', SESSION_SECRET: 'short', JWT_SECRET: 'j'.repeat(32) }),
    ).toThrow(/SESSION_SECRET must be at least 32 characters/);
    expect(() => loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', SESSION_SECRET: 's'.repeat(32) })).toThrow(ConfigError);
    const secrets = { DATA_DIR: dir, NODE_ENV: 'production', SESSION_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32) };
    expect(() => loadConfig(secrets)).toThrow(/TOTP_ENCRYPTION_KEY must be set in production/);
    expect(() => loadConfig({ ...secrets, TOTP_ENCRYPTION_KEY: 'too-short' })).toThrow(/TOTP_ENCRYPTION_KEY must be 32 bytes/);
    const key = Buffer.alloc(32, 9).toString('base64');
    expect(loadConfig({ ...secrets, TOTP_ENCRYPTION_KEY: `${key}, ${Buffer.alloc(32, 8).toString('base64')}` }).totpEncryptionKeys).toHaveLength(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('keeps a generated TOTP encryption key in the data folder in development', () => {
    const dir = tempDir();
    const first = loadConfig({ DATA_DIR: dir }).totpEncryptionKeys;
    expect(first).toHaveLength(1);
    expect(first[0]).toHaveLength(32);
    expect(loadConfig({ DATA_DIR: dir }).totpEncryptionKeys).toEqual(first);
    expect(fs.readdirSync(dir)).toContain('totp_encryption_key.secret');
  });

  it('takes the passkeys’ relying party from WEBAUTHN_*', () => {
    expect(loadConfig({ DATA_DIR: tempDir() }).webauthn).toEqual({
      rpId: 'localhost',
      rpName: 'Auth API',
      origins: ['http://localhost:4000', 'http://localhost:3000'],
    });
    const env = { DATA_DIR: tempDir(), WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_RP_NAME: 'Example', WEBAUTHN_ORIGINS: 'https://example.com, https://app.example.com' };
    expect(loadConfig(env).webauthn).toEqual({ rpId: 'example.com', rpName: 'Example', origins: ['https://example.com', 'https://app.example.com'] });
    expect(() => loadConfig({ ...env, WEBAUTHN_ORIGINS: 'https://example.com/login' })).toThrow(/WEBAUTHN_ORIGINS/);
  });
});

describe('JWT_SIGNING_KEYS', () => {
  const ed25519 = () => generateKeyPairSync('ed25519').privateKey;
  const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const jwk = (key = ed25519()) => key.export({ format: 'jwk' });
  const pem = (key = ed25519()) => String(key.export({ type: 'pkcs8', format: 'pem' }));
  const load = (value: string, env: Record<string, string> = {}) =>
    loadConfig({ DATA_DIR: tempDir(), JWT_SIGNING_KEYS: value, ...env }).jwtSigningKeys;

  it('takes a JSON array, comma-separated JWKs, a JWK set or comma-separated PEMs; the first signs', () => {
    const [a, b] = [jwk(), jwk(p256())];
    expect(load(JSON.stringify([a, b])).map((key) => key.alg)).toEqual(['EdDSA', 'ES256']);
    expect(load(`${JSON.stringify(a)}, ${JSON.stringify(b)}`).map((key) => key.publicJwk.x)).toEqual([a.x, b.x]);
    expect(load(JSON.stringify({ keys: [b, a] })).map((key) => key.alg)).toEqual(['ES256', 'EdDSA']);
    const onOneLine = pem().replace(/\n/g, '');
    const escaped = String(p256().export({ type: 'sec1', format: 'pem' })).replace(/\n/g, '\\n');
    expect(load(`${pem()},${onOneLine},${escaped}`).map((key) => key.alg)).toEqual(['EdDSA', 'EdDSA', 'ES256']);
    expect(load(JSON.stringify([pem(), a])).map((key) => key.alg)).toEqual(['EdDSA', 'EdDSA']);
  });

  it('names each key by its RFC 7638 thumbprint unless the JWK has a kid', () => {
    const key = jwk();
    const [byThumbprint] = load(JSON.stringify(key));
    // The RFC's own algorithm, spelled out: SHA-256 of {"crv","kty","x"} in that order.
    const expected = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x: key.x })).digest('base64url');
    expect(byThumbprint!.kid).toBe(expected);
    expect(load(JSON.stringify({ ...key, kid: '2026-12' }))[0]!.kid).toBe('2026-12');
  });

  it.each([
    ['not JSON', '{"kty": ', /JWT_SIGNING_KEYS is not valid JSON/],
    ['a public JWK', JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: jwk().x }), /key 1 of 1 is a public key/],
    ['a public PEM', String(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' })), /key 1 of 1 is not a private key in PEM form/],
    ['an RSA key', String(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })), /is an rsa key: only Ed25519 \(EdDSA\) and P-256 \(ES256\)/],
    ['a P-384 key', JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' })), /is an EC key on secp384r1/],
    ['a JWK declaring another alg', JSON.stringify({ ...jwk(), alg: 'ES256' }), /declares "alg": "ES256", but it is a key for EdDSA/],
    ['an encryption JWK', JSON.stringify({ ...jwk(), use: 'enc' }), /has "use": "enc"/],
    ['two keys with one kid', JSON.stringify([{ ...jwk(), kid: 'same' }, { ...jwk(), kid: 'same' }]), /two keys with the kid "same"/],
    ['garbage', 'not a key', /key 1 of 1 is not a private key in PEM form/],
  ])('refuses %s with a message that quotes no key material', (_case, value, message) => {
    let error: unknown;
    try {
      load(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    const material = value.match(/"d":"([^"]+)"/)?.[1] ?? value.match(/-----\n?([A-Za-z0-9+/]{20})/)?.[1];
    if (material) expect((error as Error).message).not.toContain(material);
  });

  it('is what production needs, or the older JWT_SECRET; neither refuses to start', () => {
    const dir = tempDir();
    const production = {
      DATA_DIR: dir,
      NODE_ENV: 'production',
      SESSION_SECRET: 's'.repeat(32),
      TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    };
    expect(() => loadConfig(production)).toThrow(/JWT_SIGNING_KEYS must be set in production/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(loadConfig({ ...production, JWT_SIGNING_KEYS: pem() }).jwtSigningKeys).toHaveLength(1);
    expect(loadConfig({ ...production, JWT_SECRET: 'j'.repeat(32) })).toMatchObject({ jwtSigningKeys: [], jwtSecrets: ['j'.repeat(32)] });
    expect(() => loadConfig({ ...production, JWT_SIGNING_KEYS: pem(), JWT_SECRET: 'short' })).toThrow(/JWT_SECRET must be at least 32/);
  });

  it('in development: generates one Ed25519 key into DATA_DIR and keeps it across restarts', () => {
    const dir = tempDir();
    const [first] = loadConfig({ DATA_DIR: dir }).jwtSigningKeys;
    expect(first!.alg).toBe('EdDSA');
    expect(loadConfig({ DATA_DIR: dir }).jwtSigningKeys[0]!.kid).toBe(first!.kid);
    expect(fs.statSync(path.join(dir, 'jwt_signing_key.pem')).mode & 0o077).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['jwt_signing_key.pem', 'session_secret.secret', 'totp_encryption_key.secret']);
    // A secret an earlier version generated keeps verifying the tokens it signed.
    fs.writeFileSync(path.join(dir, 'jwt_secret.secret'), 'earlier-development-secret');
    expect(loadConfig({ DATA_DIR: dir }).jwtSecrets).toEqual(['earlier-development-secret']);
  });

  it('JWT_ISSUER and JWT_AUDIENCE default to auth-api', () => {
    expect(loadConfig({ DATA_DIR: tempDir() })).toMatchObject({ jwtIssuer: 'auth-api', jwtAudience: 'auth-api' });
    expect(loadConfig({ DATA_DIR: tempDir(), JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'graph' })).toMatchObject({
      jwtIssuer: 'https://auth.example',
      jwtAudience: 'graph',
    });
  });
});

describe('npm start', () => {
  const server = (env: Record<string, string>) =>
    run(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { ...process.env, ...env }, timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '', stdout: '' }),
      (error: { code: number; stderr: string; stdout: string }) => error,
    );

  it('exits 1 with a clear message when production secrets are missing', async () => {
    const { code, stderr, stdout } = await server({ NODE_ENV: 'production', DATA_DIR: tempDir(), SESSION_SECRET: '', JWT_SECRET: '' });
    expect(code).toBe(1);
    expect(stderr).toContain('Configuration error: SESSION_SECRET must be set in production');
    expect(`${stderr}${stdout}`).not.toMatch(/\n\s+at /);
  });

  it('exits 1 with a clear message when the database cannot be opened', async () => {
    const blocker = path.join(tempDir(), 'not-a-folder');
    fs.writeFileSync(blocker, '');
    const { code, stdout } = await server({ DATA_DIR: tempDir(), DATABASE_URL: `file:${blocker}/app.db`, LOG_LEVEL: 'info' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/cannot start/);
    expect(stdout).not.toMatch(/\n\s+at /);
  });
});
