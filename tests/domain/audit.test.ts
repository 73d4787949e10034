// The audit log (src/audit.ts) called directly on a real database.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, countAuthEvents, findAuthEvents } from '../../src/audit.ts';
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

describe('findAuthEvents and countAuthEvents', () => {
  let alice: { id: number };
  let bob: { id: number };
  /** The events about alice and bob, newest first. */
  let theirs: { id: number; userId: number | null; kind: string }[];

  beforeAll(async () => {
    [alice, bob] = [await newUser(), await newUser()];
    for (const [kind, user] of [
      ['REGISTERED', alice],
      ['REGISTERED', bob],
      ['LOGIN_SUCCEEDED', alice],
      ['LOGIN_FAILED', alice],
      ['LOGIN_SUCCEEDED', bob],
      ['LOGOUT', alice],
      ['LOGIN_SUCCEEDED', alice],
    ] as const) {
      await audit.record({ kind, userId: user.id });
    }
    theirs = await parts.prisma.authEvent.findMany({
      where: { userId: { in: [alice.id, bob.id] } },
      select: { id: true, userId: true, kind: true },
      orderBy: { id: 'desc' },
    });
  });

  const ids = (rows: { id: number }[]) => rows.map(({ id }) => id);

  it.each([
    ['a user, by number', () => ({ userId: alice.id }), (event: { userId: number | null }) => event.userId === alice.id],
    ['a user, by the id string the API hands out', () => ({ userId: String(bob.id) }), (event: { userId: number | null }) => event.userId === bob.id],
    ['a user and a kind', () => ({ userId: alice.id, kind: 'LOGIN_SUCCEEDED' as const }), (event: { userId: number | null; kind: string }) => event.userId === alice.id && event.kind === 'LOGIN_SUCCEEDED'],
  ])('selects the events about %s, newest first, and counts them', async (_case, filterOf, matches) => {
    const expected = theirs.filter(matches);
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(await findAuthEvents(parts, filterOf(), { take: 100 }))).toEqual(ids(expected));
    expect(await countAuthEvents(parts, filterOf())).toBe(expected.length);
  });

  it('selects a kind across users, and counts all of it', async () => {
    const all = await parts.prisma.authEvent.findMany({ where: { kind: 'LOGIN_SUCCEEDED' }, select: { id: true }, orderBy: { id: 'desc' } });
    expect(ids(await findAuthEvents(parts, { kind: 'LOGIN_SUCCEEDED' }, { take: 100 }))).toEqual(ids(all));
    expect(await countAuthEvents(parts, { kind: 'LOGIN_SUCCEEDED' })).toBe(all.length);
    expect(await countAuthEvents(parts, {})).toBe(await parts.prisma.authEvent.count());
  });

  it.each(['abc', '0', '-3', '1e3', ''])('an id the API never hands out (%j) matches no event', async (userId) => {
    expect(await findAuthEvents(parts, { userId }, { take: 100 })).toEqual([]);
    expect(await countAuthEvents(parts, { userId })).toBe(0);
  });

  it('pages through a user’s events with keyset cursors, newest first', async () => {
    const expected = ids(theirs.filter((event) => event.userId === alice.id));
    const first = await findAuthEvents(parts, { userId: alice.id }, { take: 3 });
    const second = await findAuthEvents(parts, { userId: alice.id }, { take: 3, skip: 1, cursor: { id: first.at(-1)!.id } });
    expect([...ids(first), ...ids(second)]).toEqual(expected);
  });
});
