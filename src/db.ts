import fs from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from './generated/prisma/client.ts';

export type Database = PrismaClient;

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** The file behind a `file:` URL, so its folder can be created before first use. */
export function sqliteFile(databaseUrl: string): string {
  return path.resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''));
}

export async function connectDatabase(databaseUrl: string, onQuery?: (sql: string) => void): Promise<Database> {
  const prisma = new PrismaClient({
    adapter: new PrismaBetterSQLite3({ url: databaseUrl }),
    log: onQuery ? [{ emit: 'event', level: 'query' }] : [],
    // The hash leaves the database only where a query asks for it by name.
    omit: { user: { passwordHash: true } },
  }) as unknown as PrismaClient<'query'>;
  if (onQuery) prisma.$on('query', (event) => onQuery(event.query));
  try {
    // WAL lets readers proceed during a write and makes each commit ~4x cheaper (see STACK.md).
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
    await prisma.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
    await prisma.$queryRawUnsafe('PRAGMA foreign_keys = ON');
  } catch (error) {
    await prisma.$disconnect().catch(() => undefined);
    throw new DatabaseError(`Cannot open the database at ${databaseUrl}: ${(error as Error).message}`);
  }
  return prisma as unknown as Database;
}

export function ensureDatabaseFolder(databaseUrl: string): void {
  fs.mkdirSync(path.dirname(sqliteFile(databaseUrl)), { recursive: true });
}
