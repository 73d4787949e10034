import { Prisma } from './generated/prisma/client.ts';
import type { Database } from './db.ts';
import { ValidationError } from './errors.ts';
import { longerThan, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH } from './limits.ts';
import type { PasswordHasher } from './passwords/hasher.ts';
import { passwordProblems } from './passwords/policy.ts';
import { roleSet, rolesProblems } from './roles.ts';
import { endSessions } from './sessions.ts';
import { publicUserColumns, type PublicUser } from './userRows.ts';

/** What account changes need: the database and the password hasher. */
export interface AccountDeps {
  prisma: Database;
  hasher: PasswordHasher;
}

export { MAX_EMAIL_LENGTH, MAX_NAME_LENGTH };

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

// The HTML living standard's definition of a valid e-mail address, as browsers check it.
const EMAIL_PATTERN =
  /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

export function emailProblems(email: string): string[] {
  if (email.length === 0) return ['This field is required.'];
  if (email.length > MAX_EMAIL_LENGTH) return [`Ensure this value has at most ${MAX_EMAIL_LENGTH} characters.`];
  if (!EMAIL_PATTERN.test(email)) return ['Enter a valid email address.'];
  return [];
}

export function nameProblems(name: string | null | undefined): string[] {
  if (name == null) return [];
  return longerThan(name, MAX_NAME_LENGTH) ? [`Ensure this value has at most ${MAX_NAME_LENGTH} characters.`] : [];
}

/** Parses an id the API handed out; anything else names no user. */
export function parseUserId(id: string | number): number | null {
  const value = typeof id === 'number' ? id : /^\d{1,15}$/.test(id) ? Number(id) : NaN;
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

const EMAIL_TAKEN = 'A user with that email already exists.';

function emailTaken(): ValidationError {
  return new ValidationError([{ field: 'email', messages: [EMAIL_TAKEN] }]);
}

/** Format problems, or else whether another user has the address, so a form sees all at once. */
async function newEmailProblems(prisma: Database, email: string): Promise<string[]> {
  const problems = emailProblems(email);
  if (problems.length > 0) return problems;
  const taken = await prisma.user.findUnique({ where: { email }, select: { id: true } });
  return taken ? [EMAIL_TAKEN] : [];
}

export interface NewUser {
  email: string;
  password: string;
  firstName?: string | null;
  lastName?: string | null;
  isStaff?: boolean | null;
  isActive?: boolean | null;
  roles?: readonly string[] | null;
  /** Staff (and create-admin) may vouch for the address; a registration starts unverified. */
  emailVerified?: boolean | null;
}

export async function createUser(services: AccountDeps, input: NewUser): Promise<PublicUser> {
  const email = normalizeEmail(input.email);
  const firstName = input.firstName?.trim() ?? '';
  const lastName = input.lastName?.trim() ?? '';
  ValidationError.check({
    email: await newEmailProblems(services.prisma, email),
    password: await passwordProblems(input.password, { email, firstName, lastName }),
    firstName: nameProblems(firstName),
    lastName: nameProblems(lastName),
    roles: rolesProblems(input.roles),
  });
  const passwordHash = await services.hasher.hash(input.password);
  try {
    return await services.prisma.user.create({
      data: {
        email,
        passwordHash,
        firstName,
        lastName,
        isStaff: input.isStaff ?? false,
        isActive: input.isActive ?? true,
        roles: { create: roleSet(input.roles ?? []).map((role) => ({ role })) },
        emailVerified: input.emailVerified ?? false,
      },
      select: publicUserColumns,
    });
  } catch (error) {
    // Another request registered the same email between the check and the insert.
    if (isUniqueViolation(error)) throw emailTaken();
    throw error;
  }
}

export interface UserChanges {
  email?: string | null;
  password?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  isStaff?: boolean | null;
  isActive?: boolean | null;
  /** Replaces the user's roles. */
  roles?: readonly string[] | null;
  emailVerified?: boolean | null;
}

/**
 * Applies a partial update: omitted (or null) fields keep their value. Setting a password or
 * deactivating the user ends all of their sessions. New roles replace the old set; sessions go on,
 * and the user's next access token carries them. A new email is unverified unless `emailVerified`
 * says otherwise: nobody has proved it yet. Staff (`actorId`) cannot take away their own staff
 * status or activity: another staff member has to, so nobody locks themselves out by mistake.
 * Returns null when no such user exists.
 */
export async function updateUser(
  services: AccountDeps,
  id: number,
  changes: UserChanges,
  actorId: number | null = null,
): Promise<PublicUser | null> {
  if (id === actorId) {
    ValidationError.check({
      isStaff: changes.isStaff === false ? ['You cannot remove your own staff status.'] : [],
      isActive: changes.isActive === false ? ['You cannot deactivate your own account.'] : [],
    });
  }
  const current = await services.prisma.user.findUnique({ where: { id }, select: publicUserColumns });
  if (!current) return null;

  const email = changes.email == null ? undefined : normalizeEmail(changes.email);
  const firstName = changes.firstName?.trim();
  const lastName = changes.lastName?.trim();
  ValidationError.check({
    email: email === undefined || email === current.email ? [] : await newEmailProblems(services.prisma, email),
    password:
      changes.password == null
        ? []
        : await passwordProblems(changes.password, {
            email: email ?? current.email,
            firstName: firstName ?? current.firstName,
            lastName: lastName ?? current.lastName,
          }),
    firstName: nameProblems(firstName),
    lastName: nameProblems(lastName),
    roles: rolesProblems(changes.roles),
  });
  const passwordHash = changes.password == null ? undefined : await services.hasher.hash(changes.password);
  const emailChanged = email !== undefined && email !== current.email;
  const emailVerified = changes.emailVerified ?? (emailChanged ? false : undefined);
  const signOut = passwordHash !== undefined || (changes.isActive === false && current.isActive);

  try {
    const [updated] = await services.prisma.$transaction([
      services.prisma.user.update({
        where: { id },
        data: {
          email,
          passwordHash,
          firstName,
          lastName,
          isStaff: changes.isStaff ?? undefined,
          isActive: changes.isActive ?? undefined,
          roles: changes.roles == null ? undefined : { deleteMany: {}, create: roleSet(changes.roles).map((role) => ({ role })) },
          emailVerified,
        },
        select: publicUserColumns,
      }),
      ...(signOut ? endSessions(services.prisma, id) : []),
    ]);
    return updated;
  } catch (error) {
    if (isUniqueViolation(error)) throw emailTaken();
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') return null;
    throw error;
  }
}

export interface ProfileChanges {
  firstName?: string | null;
  lastName?: string | null;
}

/** A user's own change of their names; omitted (or null) names keep their value. */
export async function updateProfile(
  services: Pick<AccountDeps, 'prisma'>,
  userId: number,
  changes: ProfileChanges,
): Promise<PublicUser> {
  const firstName = changes.firstName?.trim();
  const lastName = changes.lastName?.trim();
  ValidationError.check({ firstName: nameProblems(firstName), lastName: nameProblems(lastName) });
  return services.prisma.user.update({ where: { id: userId }, data: { firstName, lastName }, select: publicUserColumns });
}

export type Deletion =
  /** The user is gone with their sessions; the email is for the audit log. */
  | { kind: 'deleted'; email: string }
  | { kind: 'notFound' }
  /** Staff cannot delete their own account (nothing changes). */
  | { kind: 'self' };

/** Deletes a user on behalf of `actorId`; their sessions go with them. */
export async function deleteUser(services: Pick<AccountDeps, 'prisma'>, id: number, actorId: number | null): Promise<Deletion> {
  if (id === actorId) return { kind: 'self' };
  try {
    const { email } = await services.prisma.user.delete({ where: { id }, select: { email: true } });
    return { kind: 'deleted', email };
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') return { kind: 'notFound' };
    throw error;
  }
}

/** The users with these ids, in one query, with the columns asked for; unknown ids are simply absent. */
export async function usersByIds(
  services: { prisma: Database },
  ids: readonly number[],
  select: Prisma.UserSelect = publicUserColumns,
): Promise<Map<number, PublicUser>> {
  const rows = (await services.prisma.user.findMany({ where: { id: { in: [...ids] } }, select: { ...select, ...publicUserColumns } })) as PublicUser[];
  return new Map(rows.map((row) => [row.id, row]));
}
