// A second subgraph for the gateway test: orders, each with a customer that is a User of the
// auth subgraph. Built with Pothos' federation plugin and served by graphql-yoga, as another team's
// service would be. It checks bearer tokens itself, against the auth service's JWKS.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { createYoga } from 'graphql-yoga';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { publicSchema } from '../../src/schema/index.ts';

export interface Order {
  id: string;
  customerId: string;
  total: number;
  internalNote: string;
}

interface OrdersContext {
  /** The bearer's user id (`sub`), or null. */
  userId: string | null;
}

export interface OrdersSubgraph {
  url: string;
  sdl: string;
  /** Requests this subgraph received (the gateway's), with their Authorization header. */
  requests: { authorization: string | null; query: string }[];
  stop(): Promise<void>;
}

export async function startOrdersSubgraph(orders: Order[], jwksUrl: string): Promise<OrdersSubgraph> {
  const builder = new SchemaBuilder<{ Context: OrdersContext; FederationScopes: 'staff'; DefaultFieldNullability: false }>({
    plugins: [DirectivesPlugin, FederationPlugin],
    defaultFieldNullability: false,
    // The options' type asks for every plugin this project's own builder loads (prisma, scopeAuth),
    // whichever plugins this one uses: Pothos types plugin options globally.
  } as never);
  // The auth subgraph's entity, referenced by key only (`resolvable: false`): the gateway fetches
  // its other fields there.
  const UserRef = builder.objectRef<{ id: string }>('User').implement({ fields: (t) => ({ id: t.exposeID('id') }) });
  builder.asEntity(UserRef, { key: builder.keyDirective(builder.selection<{ id: string }>('id'), false), resolveReference: (user) => user });
  const OrderType = builder.objectRef<Order>('Order').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      total: t.exposeFloat('total'),
      customer: t.field({ type: UserRef, nullable: true, resolve: (order) => ({ id: order.customerId }) }),
      internalNote: t.exposeString('internalNote', { nullable: true, requiresScopes: [['staff']] }),
    }),
  });
  builder.queryType({
    fields: (t) => ({
      myOrders: t.field({
        type: [OrderType],
        authenticated: true,
        resolve: (_root, _args, context) => orders.filter((order) => order.customerId === context.userId),
      }),
      // Any order by id, as a shared receipt link would show it: its customer is whoever bought it.
      order: t.field({
        type: OrderType,
        nullable: true,
        args: { id: t.arg.id({ required: true }) },
        resolve: (_root, { id }) => orders.find((order) => order.id === String(id)) ?? null,
      }),
    }),
  });
  const schema = builder.toSubGraphSchema({
    linkUrl: 'https://specs.apollo.dev/federation/v2.6',
    federationDirectives: ['@key', '@authenticated', '@requiresScopes'],
  });
  // What it contributes to the supergraph: its schema without `_service`, printed as this service's is.
  const sdl = printSchemaWithDirectives(publicSchema(schema), { pathToDirectivesInExtensions: ['none'] });

  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const requests: OrdersSubgraph['requests'] = [];
  const yoga = createYoga<{ req: http.IncomingMessage }, OrdersContext>({
    schema,
    logging: false,
    context: async ({ request, params }) => {
      const authorization = request.headers.get('authorization');
      requests.push({ authorization, query: params.query ?? '' });
      const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
      if (!token) return { userId: null };
      const { payload } = await jwtVerify(token, jwks).catch(() => ({ payload: null }));
      return { userId: typeof payload?.sub === 'string' ? payload.sub : null };
    },
  });
  const server = http.createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return {
    url,
    sdl,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
