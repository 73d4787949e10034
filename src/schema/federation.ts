import DataLoader from 'dataloader';
import { queryFromInfo } from '@pothos/plugin-prisma';
import type { FieldNode, GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import type { Context } from '../context.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { parseUserId, usersByIds } from '../users.ts';
import { publicUserColumns, type PublicUser } from '../userRows.ts';
import { builder } from './builder.ts';
import { badUserInput } from './errors.ts';
import { UserType } from './user.ts';

/**
 * A gateway asks for every entity of a plan step in one `_entities` call (one per order of a page,
 * say); more than this in one request is refused rather than read.
 */
export const MAX_REPRESENTATIONS = 500;

/**
 * One query for all the users an `_entities` field names, selecting what the document asks of them
 * (as `user(id)` would), so no field falls back to a query of its own.
 */
const loaders = new WeakMap<Context, Map<FieldNode, DataLoader<number, PublicUser | null>>>();

function userLoader(context: Context, info: GraphQLResolveInfo) {
  let byField = loaders.get(context);
  if (!byField) loaders.set(context, (byField = new Map()));
  const field = info.fieldNodes[0]!;
  let loader = byField.get(field);
  if (!loader) {
    const { select } = queryFromInfo({ context, info, typeName: UserType.name, select: publicUserColumns }) as { select: Prisma.UserSelect };
    loader = new DataLoader(async (ids: readonly number[]) => {
      const rows = await usersByIds(context, ids, select);
      return ids.map((id) => rows.get(id) ?? null);
    });
    byField.set(field, loader);
  }
  return loader;
}

// Another subgraph returns a `User` by id; the gateway resolves it here with the client's
// Authorization header. The rules are those of `user(id)` (staff), plus a signed-in user's own id;
// any other requester or id gets null in its position, which tells nothing about the user.
builder.asEntity(UserType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: async (reference, context, info) => {
    const id = parseUserId(typeof reference.id === 'string' || typeof reference.id === 'number' ? reference.id : '');
    if (id === null) return null;
    const viewer = await context.viewer();
    if (!viewer || (!viewer.isStaff && viewer.id !== id)) return null;
    return userLoader(context, info).load(id);
  },
});

/**
 * `_service { sdl }` answers `sdl()`. `_entities` as `@apollo/subgraph` resolves it throws a plain
 * Error for a representation it cannot place (answered as an unexpected error): those, and too
 * many at once, are refused as bad input.
 */
export function federationFields(schema: GraphQLSchema, sdl: () => string): GraphQLSchema {
  const fields = schema.getQueryType()!.getFields();
  fields._service!.resolve = () => ({ sdl: sdl() });
  const entities = fields._entities!;
  const resolve = entities.resolve!;
  entities.resolve = (source, args, context, info) => {
    const representations: unknown = args.representations;
    if (!Array.isArray(representations) || representations.length > MAX_REPRESENTATIONS) {
      throw badUserInput(`representations must be a list of at most ${MAX_REPRESENTATIONS} entities`);
    }
    for (const representation of representations) {
      const typename = (representation as { __typename?: unknown } | null)?.__typename;
      if (typename !== UserType.name) {
        throw badUserInput(`representations: "${String(typename)}" is not an entity of this subgraph (User)`);
      }
    }
    return resolve(source, args, context, info);
  };
  return schema;
}
