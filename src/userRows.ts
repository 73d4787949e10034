import type { DirectReads } from './db.ts';
import type { Prisma } from './generated/prisma/client.ts';

/** Every column a client may see: never the password hash. */
export const publicUserColumns = {
  id: true,
  email: true,
  firstName: true,
  lastName: true,
  isStaff: true,
  isActive: true,
  dateJoined: true,
  lastLogin: true,
  emailVerified: true,
} as const satisfies Prisma.UserSelect;

export type PublicUser = Prisma.UserGetPayload<{ select: typeof publicUserColumns }>;

type Timestamp = Date | string;
/** A boolean column as a driver returns it (SQLite has no booleans). */
export type Flag = boolean | number | bigint;

/** A raw row: types differ by database (SQLite has no booleans or dates), so they are normalized. */
export interface RawUserRow {
  userId: number | bigint | null;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  isStaff: Flag | null;
  isActive: Flag | null;
  dateJoined: Timestamp | null;
  lastLogin: Timestamp | null;
  emailVerified: Flag | null;
}

/** The public columns of `User` aliased `u`, as `RawUserRow` names them. */
export const USER_COLUMNS_SQL = `u."id" AS "userId", u."email", u."firstName", u."lastName",
    u."isStaff", u."isActive", u."dateJoined", u."lastLogin", u."emailVerified"`;

/** The user of a raw row; null when the row has none (an outer join that found no user). */
export function userFromRow(row: RawUserRow): PublicUser | null {
  if (row.userId === null) return null;
  return {
    id: Number(row.userId),
    email: row.email!,
    firstName: row.firstName!,
    lastName: row.lastName!,
    isStaff: Boolean(row.isStaff),
    isActive: Boolean(row.isActive),
    dateJoined: new Date(row.dateJoined!),
    lastLogin: row.lastLogin === null ? null : new Date(row.lastLogin),
    emailVerified: Boolean(row.emailVerified),
  };
}

const USER_BY_ID_SQL = `SELECT ${USER_COLUMNS_SQL} FROM "User" u WHERE u."id" = ?`;

/**
 * One user's public columns, by id, as one prepared statement: staff read users by id far more
 * often than they change them, and Prisma's query costs several times the statement (docs/performance.md).
 */
export async function readUser(reads: DirectReads, id: number): Promise<PublicUser | null> {
  const row = await reads.get<RawUserRow>(USER_BY_ID_SQL, id);
  return row ? userFromRow(row) : null;
}
