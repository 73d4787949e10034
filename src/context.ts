import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Database } from './db.ts';
import type { PasswordHasher } from './passwords/hasher.ts';
import type { PrismaSessionStore } from './sessionStore.ts';

/** What every request's resolvers share: the app's services plus the request itself. */
export interface Services {
  config: Config;
  prisma: Database;
  hasher: PasswordHasher;
  sessions: PrismaSessionStore;
  logger: Logger;
}

export interface Viewer {
  id: number;
  isStaff: boolean;
}

export interface Context extends Services {
  req: Request;
  res: Response;
  /** The signed-in user's id, or null for anonymous requests. */
  userId: number | null;
  /** The signed-in user's flags, loaded once per request when a field needs them. */
  viewer: () => Promise<Viewer | null>;
}

export function createContext(services: Services, req: Request, res: Response): Context {
  const userId = req.session?.userId ?? null;
  let viewer: Promise<Viewer | null> | undefined;
  return {
    ...services,
    req,
    res,
    userId,
    viewer: () =>
      (viewer ??=
        userId === null
          ? Promise.resolve(null)
          : services.prisma.user.findFirst({ where: { id: userId, isActive: true }, select: { id: true, isStaff: true } })),
  };
}
