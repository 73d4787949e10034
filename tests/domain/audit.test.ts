// The audit log (src/audit.ts) called directly on a real database.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';
import { waitForLogEntry } from '../helpers/mail.ts';

let parts: DomainParts;
let audit: AuditLog;
beforeAll(async () => {
  parts = await domainParts();
  audit = new AuditLog(parts.prisma, parts.logger);
});
afterAll(() => parts?.close());

async function newUser() {
  return parts.prisma.user.create({ data: { email: `${randomUUID()}@audit.test`, passwordHash: 'unused' }, select: { id: true, email: true } });
}

describe('record', () => {
  it('stores the event with its account, actor, address and client', async () => {
    const [user, staff] = [await newUser(), await newUser()];
    await audit.record({ kind: 'USER_UPDATED', userId: user.id, actorId: staff.id, email: user.email, ipAddress: '192.0.2.1', userAgent: 'test/1' });
    const events = await parts.prisma.authEvent.findMany({ where: { userId: user.id } });
    expect(events).toEqual([
      {
        id: expect.any(Number),
        kind: 'USER_UPDATED',
        at: expect.any(Date),
        userId: user.id,
        actorId: staff.id,
        email: user.email,
        ipAddress: '192.0.2.1',
        userAgent: 'test/1',
      },
    ]);
    expect(Math.abs(events[0]!.at.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('stores what was not given as null: an anonymous attempt on an unknown address', async () => {
    const email = `${randomUUID()}@nobody.test`;
    await audit.record({ kind: 'LOGIN_FAILED', email });
    expect(await parts.prisma.authEvent.findFirstOrThrow({ where: { email } })).toMatchObject({
      kind: 'LOGIN_FAILED',
      userId: null,
      actorId: null,
      ipAddress: null,
      userAgent: null,
    });
  });

  it('cuts an oversized address to 254 characters, never through a character', async () => {
    const marker = randomUUID();
    await audit.record({ kind: 'LOGIN_FAILED', email: `${marker}${'x'.repeat(300)}` });
    // The marker is 36 units: the 254th unit ends an emoji in the first, and starts one in the second.
    await audit.record({ kind: 'LOGIN_FAILED', email: `${marker}${'y'.repeat(216)}${'😀'.repeat(20)}` });
    await audit.record({ kind: 'LOGIN_FAILED', email: `${marker}${'z'.repeat(217)}${'😀'.repeat(20)}` });
    const stored = await parts.prisma.authEvent.findMany({ where: { email: { startsWith: marker } }, orderBy: { id: 'asc' } });
    expect(stored.map(({ email }) => email)).toEqual([
      `${marker}${'x'.repeat(218)}`,
      `${marker}${'y'.repeat(216)}😀`,
      `${marker}${'z'.repeat(217)}`,
    ]);
  });

  it('never fails its caller: an event the database refuses is logged instead', async () => {
    await expect(audit.record({ kind: 'USER_UPDATED', userId: 987_654_321 })).resolves.toBeUndefined();
    const entry = await waitForLogEntry(parts.logs, (line) => line.msg === 'could not record an auth event');
    expect(entry).toMatchObject({ kind: 'USER_UPDATED', userId: 987_654_321 });
    expect(await parts.prisma.authEvent.count({ where: { userId: 987_654_321 } })).toBe(0);
  });

  it('keeps the events of a deleted user, naming nobody', async () => {
    const user = await newUser();
    await audit.record({ kind: 'REGISTERED', userId: user.id, actorId: user.id, email: user.email });
    await parts.prisma.user.delete({ where: { id: user.id } });
    expect(await parts.prisma.authEvent.findFirstOrThrow({ where: { email: user.email } })).toMatchObject({ userId: null, actorId: null });
  });
});

describe('prune', () => {
  it('deletes the events older than the retention, and only those', async () => {
    const user = await newUser();
    const day = 24 * 60 * 60 * 1000;
    for (const age of [40, 31, 29, 1]) {
      await parts.prisma.authEvent.create({ data: { kind: 'LOGOUT', userId: user.id, at: new Date(Date.now() - age * day) } });
    }
    const kept = await parts.prisma.authEvent.count({ where: { at: { gte: new Date(Date.now() - 30 * day) } } });
    expect(await audit.prune(30 * day)).toBe(2);
    const left = await parts.prisma.authEvent.findMany({ where: { userId: user.id }, select: { at: true } });
    expect(left.map(({ at }) => Math.round((Date.now() - at.getTime()) / day)).sort((a, b) => a - b)).toEqual([1, 29]);
    expect(await parts.prisma.authEvent.count()).toBe(kept);
  });
});
