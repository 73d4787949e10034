import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { GraphQLObjectType, GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './user.ts';
import './auth.ts';
import './account.ts';
import './tokens.ts';
import './passwordReset.ts';
import './email.ts';
import './audit.ts';
import './secondFactor.ts';
import { federationFields } from './federation.ts';

/**
 * What this service serves: the API plus Apollo Federation v2's `_service` and `_entities`.
 *
 * Workaround: @pothos/plugin-federation 4.4 imports `EntityType`, `entitiesField` and
 * `serviceField` from `@apollo/subgraph/dist/types`, which @apollo/subgraph 2.15 (MIT) no longer
 * exports, and 2.0–2.14 depend on @apollo/federation-internals (Elastic License 2.0). So
 * package.json pins @apollo/subgraph 0.6.1 (MIT, same exports and `extensions.apollo.subgraph.
 * resolveReference` contract) through an `overrides` entry, and the SDL is printed here with
 * graphql-tools, as 0.6's printer knows Federation 1 only (hayes/pothos#427 recommends the same
 * printer). Both can go once the plugin works with @apollo/subgraph 2.15 or later.
 */
export const schema = federationFields(
  // The directives named here, rather than found by a second build of the whole schema.
  builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6', federationDirectives: ['@key'] }),
  () => printedSubgraphSchema(),
);

/** Types and fields a gateway uses to compose and plan; clients of the API do not see them. */
const FEDERATION_TYPES = new Set(['_Any', '_Entity', '_Service', 'link__Import', 'link__Purpose', 'federation__FieldSet']);
const FEDERATION_QUERY_FIELDS = new Set(['_entities', '_service']);

/** The served schema without the federation plumbing: the API its clients (and a supergraph's) see. */
export function publicSchema(served: GraphQLSchema = schema): GraphQLSchema {
  const config = served.toConfig();
  const query = config.query!.toConfig();
  const publicQuery = new GraphQLObjectType({
    ...query,
    fields: Object.fromEntries(Object.entries(query.fields).filter(([name]) => !FEDERATION_QUERY_FIELDS.has(name))),
  });
  return new GraphQLSchema({
    ...config,
    query: publicQuery,
    types: config.types.filter((type) => !FEDERATION_TYPES.has(type.name) && type.name !== publicQuery.name && !type.name.startsWith('__')),
    extensions: {},
  });
}

/** schema.graphql: the public contract. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(publicSchema()))}\n`;
}

let subgraphSdl: string | undefined;

/**
 * schema.subgraph.graphql: what `_service { sdl }` answers and a gateway composes: the public
 * schema with `@link` and `@key`. Printed from the directives' AST nodes (the directives plugin
 * writes them); the extensions hold the same directives in a form graphql-tools does not read.
 */
export function printedSubgraphSchema(): string {
  subgraphSdl ??= `${printSchemaWithDirectives(lexicographicSortSchema(publicSchema()), { pathToDirectivesInExtensions: ['none'] })}\n`;
  return subgraphSdl;
}
