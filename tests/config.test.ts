import { execFile } from 'node:child_process';
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
      RATE_LIMITS: 'off',
      PORT: '8080',
    });
    expect(config.sessionSecrets).toEqual(['new-secret', 'old-secret']);
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config).toMatchObject({ trustProxy: 1, bcryptCost: 12, rateLimits: false, port: 8080 });
  });

  it.each([
    [{ BCRYPT_COST: '9' }, /BCRYPT_COST must be a whole number from 10 to 14/],
    [{ BCRYPT_COST: 'twelve' }, /BCRYPT_COST/],
    [{ PORT: '70000' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ PASSWORD_RESET_URL: 'https://app.example/reset' }, /\{token\}/],
    [{ DATABASE_URL: 'mysql://localhost/db' }, /DATABASE_URL/],
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
    expect(fs.readdirSync(dir)).toEqual([]);
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
