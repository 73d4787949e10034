// How long the audit log keeps events.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startTestApp } from './helpers/app.ts';
import { DAY_MS } from './helpers/auditSuite.ts';

describe('retention', () => {
  it('prune deletes the events older than the retention and keeps the newer ones', async () => {
    const retaining = await startTestApp();
    try {
      const { prisma, audit } = retaining.services;
      const retentionMs = 180 * DAY_MS;
      const ages = { ancient: 400 * DAY_MS, expired: retentionMs + 60_000, kept: retentionMs - 60_000, recent: DAY_MS, fresh: 0 };
      for (const [name, age] of Object.entries(ages)) {
        await audit.record({ kind: 'LOGIN_FAILED', email: `${name}@example.com` });
        await prisma.authEvent.updateMany({ where: { email: `${name}@example.com` }, data: { at: new Date(Date.now() - age) } });
      }
      expect(await audit.prune(retentionMs)).toBe(2);
      const left = await prisma.authEvent.findMany({ select: { email: true }, orderBy: { id: 'asc' } });
      expect(left.map((row) => row.email)).toEqual(['kept@example.com', 'recent@example.com', 'fresh@example.com']);
      expect(await audit.prune(retentionMs)).toBe(0);
    } finally {
      await retaining.stop();
    }
  });

  it('is read from AUDIT_RETENTION_DAYS, 180 days by default', () => {
    const env = { DATA_DIR: os.tmpdir(), SESSION_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32) };
    expect(loadConfig(env).auditRetentionMs).toBe(180 * DAY_MS);
    expect(loadConfig({ ...env, AUDIT_RETENTION_DAYS: '30' }).auditRetentionMs).toBe(30 * DAY_MS);
    for (const invalid of ['0', '-5', '1.5', 'forever', '3651']) {
      expect(() => loadConfig({ ...env, AUDIT_RETENTION_DAYS: invalid }), invalid).toThrow(ConfigError);
      expect(() => loadConfig({ ...env, AUDIT_RETENTION_DAYS: invalid }), invalid).toThrow(/AUDIT_RETENTION_DAYS/);
    }
  });
});
