import type { Config, DatabaseProvider } from './config.ts';
import type { Database, DirectReads } from './db.ts';
import { InvalidArgumentError } from './errors.ts';
import type { Prisma, User } from './generated/prisma/client.ts';
import { countRows, whereClause, type SqlCondition } from './pages.ts';
import { publicUserColumns, USER_COLUMNS_SQL, userFromRow, type RawUserRow } from './userRows.ts';
import { ROLE_PATTERN } from './roles.ts';

/** Staff's list of users: filters, orders, keyset pages and counts, free of GraphQL. */

export const MAX_SEARCH_LENGTH = 254;

/** Every condition is optional; given ones must all hold. */
export interface UserFilter {
  /** Case-insensitive substring of the email, first or last name. */
  search?: string | null;
  isStaff?: boolean | null;
  isActive?: boolean | null;
  /** Users who have this role. */
  role?: string | null;
  hasSecondFactor?: boolean | null;
  emailVerified?: boolean | null;
}

export type UserOrderField = 'dateJoined' | 'email' | 'lastLogin';

export interface UserOrder {
  field: UserOrderField;
  direction: 'asc' | 'desc';
}

/** Oldest account first. */
export const DEFAULT_USER_ORDER: UserOrder = { field: 'dateJoined', direction: 'asc' };

/**
 * A window of the ordered list, as Prisma reads it: `take` rows (a negative `take` reads backwards)
 * starting at the user with id `cursor.id`, less the first `skip` of them.
 */
export interface UserWindow {
  take?: number;
  skip?: number;
  cursor?: { id: number };
}

/** Which columns and relations to read (Prisma's `select` or `include`); all columns without either. */
export type UserSelection = { select?: Prisma.UserSelect | null; include?: Prisma.UserInclude | null };

export interface UserDirectoryDeps {
  prisma: Database;
  /** The cursor's sort key and the count are single-row reads on it. */
  directReads: DirectReads;
  config: Pick<Config, 'databaseProvider'>;
}

/** The users in `window` of the list that `filter` and `order` make. Throws InvalidArgumentError for a bad filter. */
export async function findUsers(
  deps: UserDirectoryDeps,
  filter: UserFilter | null | undefined,
  order: UserOrder | null | undefined,
  window: UserWindow & UserSelection,
): Promise<User[]> {
  if (window.take !== undefined && readsColumnsOnly(window)) return readUserPage(deps, filter, order ?? DEFAULT_USER_ORDER, { ...window, take: window.take });
  const where = { ...userWhere(filter, deps.config.databaseProvider), ...(await cursorBound(deps, window, order ?? DEFAULT_USER_ORDER)) };
  return deps.prisma.user.findMany({ ...window, where, orderBy: userOrder(order ?? DEFAULT_USER_ORDER) } as Prisma.UserFindManyArgs);
}

/** How many users `filter` selects, whatever the page. Throws InvalidArgumentError for a bad filter. */
export async function countUsers(deps: Pick<UserDirectoryDeps, 'directReads' | 'config'>, filter: UserFilter | null | undefined): Promise<number> {
  return countRows(deps.directReads, 'User', userConditions(filter, deps.config.databaseProvider));
}

/** A substring match that ignores case: SQLite's LIKE does for ASCII, PostgreSQL needs ILIKE. */
function containing(text: string, provider: DatabaseProvider): Prisma.StringFilter {
  return (provider === 'postgresql' ? { contains: text, mode: 'insensitive' } : { contains: text }) as Prisma.StringFilter;
}

/** The filter's search text, trimmed; undefined when there is none. */
function searchText(filter: UserFilter | null | undefined): string | undefined {
  const search = filter?.search?.trim();
  if (search && search.length > MAX_SEARCH_LENGTH) {
    throw new InvalidArgumentError(`filter.search must be at most ${MAX_SEARCH_LENGTH} characters`);
  }
  return search || undefined;
}

/** The filter's role, checked like a role name (so the index on it serves every filter). */
function roleFilter(filter: UserFilter | null | undefined): string | undefined {
  const role = filter?.role;
  if (role == null) return undefined;
  if (!ROLE_PATTERN.test(role)) {
    throw new InvalidArgumentError(
      'filter.role must be a role name: a lower-case letter, then up to 63 lower-case letters, digits, or _ : . -',
    );
  }
  return role;
}

function userWhere(filter: UserFilter | null | undefined, provider: DatabaseProvider): Prisma.UserWhereInput {
  const search = searchText(filter);
  const role = roleFilter(filter);
  return {
    isStaff: filter?.isStaff ?? undefined,
    isActive: filter?.isActive ?? undefined,
    ...(role ? { roles: { some: { role } } } : {}),
    hasSecondFactor: filter?.hasSecondFactor ?? undefined,
    emailVerified: filter?.emailVerified ?? undefined,
    ...(search
      ? {
          OR: [
            { email: containing(search.toLowerCase(), provider) },
            { firstName: containing(search, provider) },
            { lastName: containing(search, provider) },
          ],
        }
      : {}),
  };
}

/** `userWhere` as SQL, for the count and the direct page: the same conditions, and LIKE patterns as Prisma's `contains` makes them. */
function userConditions(filter: UserFilter | null | undefined, provider: DatabaseProvider): SqlCondition[] {
  const search = searchText(filter);
  const role = roleFilter(filter);
  const like = provider === 'postgresql' ? 'ILIKE' : 'LIKE';
  const equal = (column: keyof UserFilter, value: boolean | null | undefined): SqlCondition[] =>
    value == null ? [] : [[`"${column}" = ?`, value]];
  return [
    ...equal('isStaff', filter?.isStaff),
    ...equal('isActive', filter?.isActive),
    ...(role ? [['"id" IN (SELECT "userId" FROM "UserRole" WHERE "role" = ?)', role] as SqlCondition] : []),
    ...equal('hasSecondFactor', filter?.hasSecondFactor),
    ...equal('emailVerified', filter?.emailVerified),
    ...(search
      ? [[`("email" ${like} ? OR "firstName" ${like} ? OR "lastName" ${like} ?)`, `%${search.toLowerCase()}%`, `%${search}%`, `%${search}%`] as SqlCondition]
      : []),
  ];
}

/**
 * Ties are broken by id so that pages are stable. Users who never logged in come first in
 * ascending order on every database (PostgreSQL would put nulls last, SQLite first).
 */
function userOrder({ field, direction }: UserOrder): Prisma.UserOrderByWithRelationInput[] {
  const primary =
    field === 'lastLogin' ? { lastLogin: { sort: direction, nulls: direction === 'asc' ? 'first' : 'last' } } : { [field]: direction };
  return [primary as Prisma.UserOrderByWithRelationInput, { id: direction }];
}

/**
 * Prisma turns a cursor into `(key = cursor's key AND id >= cursor) OR key > cursor's key`, which
 * no index serves: the database walks the (key, id) index from the start up to the cursor, so a
 * page near the end of a million users costs a hundred times the first. A bound on the sort key
 * alone, read from the cursor's row, lets the index start at the cursor (Prisma's condition still
 * settles ties), so every page costs the same. Rows read towards smaller keys may include null
 * lastLogins (they sort as the smallest), so those pages go unbounded.
 */
async function cursorBound(deps: Pick<UserDirectoryDeps, 'directReads'>, window: UserWindow, order: UserOrder): Promise<Prisma.UserWhereInput> {
  const id = window.cursor?.id;
  if (typeof id !== 'number') return {};
  const { field, direction } = order;
  // A negative take reads backwards from the cursor.
  const upwards = (direction === 'asc') === ((window.take ?? 1) > 0);
  if (field === 'lastLogin' && !upwards) return {};
  const raw = (await deps.directReads.get<{ key: string | Date | null }>(`SELECT "${field}" AS "key" FROM "User" WHERE "id" = ?`, id))?.key;
  // No such row: Prisma answers an empty page anyway.
  if (raw == null) return {};
  const key = field === 'email' ? raw : new Date(raw);
  return { [field]: upwards ? { gte: key } : { lte: key } };
}

/** The columns a page reads with one direct statement; any other selection (roles) goes through Prisma. */
const DIRECT_COLUMNS = new Set([...Object.keys(publicUserColumns), 'hasSecondFactor']);

function readsColumnsOnly({ select, include }: UserSelection): boolean {
  return !include && !!select && Object.entries(select).every(([key, value]) => value === true && DIRECT_COLUMNS.has(key));
}

/**
 * The rows at or after the cursor's in the order the page is read (`asc` or `desc`), as Prisma's
 * cursor takes them. The bound on the sort key alone lets the index start at the cursor; users who
 * never logged in have the smallest lastLogin, and the cursor's key is read in the same statement.
 */
function fromCursor(field: UserOrderField, direction: 'asc' | 'desc', id: number): SqlCondition {
  const key = `(SELECT "${field}" FROM "User" WHERE "id" = ?)`;
  const [beyond, atOrBeyond, idFrom] = direction === 'asc' ? ['>', '>=', '>='] : ['<', '<=', '<='];
  const bounded = `"${field}" ${atOrBeyond} ${key} AND ("${field}" ${beyond} ${key} OR "id" ${idFrom} ?)`;
  if (field !== 'lastLogin') return [bounded, id, id, id];
  const exists = 'EXISTS (SELECT 1 FROM "User" WHERE "id" = ?)';
  return direction === 'asc'
    ? [`((${bounded}) OR (${key} IS NULL AND ${exists} AND ("lastLogin" IS NOT NULL OR "id" >= ?)))`, id, id, id, id, id, id]
    : [`((${bounded}) OR ("lastLogin" IS NULL AND ${exists} AND (${key} IS NOT NULL OR "id" <= ?)))`, id, id, id, id, id, id];
}

type PageRow = RawUserRow & { hasSecondFactor: boolean | number | null };

/**
 * A page of public columns as one prepared statement on the direct reads, with the same rows and
 * order as Prisma's query (the domain tests read every list both ways): the users page is the
 * busiest staff query, and Prisma's query compiler costs more than the statement itself.
 */
async function readUserPage(
  deps: UserDirectoryDeps,
  filter: UserFilter | null | undefined,
  { field, direction }: UserOrder,
  window: UserWindow & { take: number },
): Promise<User[]> {
  // A negative take reads backwards from the cursor; the page still comes back in list order.
  const forwards = window.take > 0;
  const reading = forwards === (direction === 'asc') ? 'asc' : 'desc';
  const conditions = userConditions(filter, deps.config.databaseProvider);
  if (window.cursor) conditions.push(fromCursor(field, reading, window.cursor.id));
  const { where, params } = whereClause(conditions);
  const nulls = field === 'lastLogin' ? (reading === 'asc' ? ' NULLS FIRST' : ' NULLS LAST') : '';
  const sql = `SELECT ${USER_COLUMNS_SQL}, u."hasSecondFactor" FROM "User" u${where} ORDER BY "${field}" ${reading.toUpperCase()}${nulls}, "id" ${reading.toUpperCase()} LIMIT ? OFFSET ?`;
  const rows = await deps.directReads.all<PageRow>(sql, ...params, Math.abs(window.take), window.skip ?? 0);
  const users = rows.map((row) => ({ ...userFromRow(row)!, hasSecondFactor: Boolean(row.hasSecondFactor) }) as User);
  return forwards ? users : users.reverse();
}
