import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// Limits on the shape of a GraphQL document, checked before anything runs (graphql-armor).
// The client operations in README.md and tests/ peak at depth 4, cost 775, 82 tokens, no aliases
// and no directives; GraphiQL's introspection query has 184 tokens (its `__schema` subtree is
// exempt from depth and cost, and production refuses introspection altogether).
// Cost multiplies by `first`/`last` only when they are literals: with `first: $n` a page counts as
// one row, so for variable pages it is MAX_ALIASES times the schema's largest page (100) that
// bounds the rows one request can read.

/** Deepest legitimate selection is 5 (authEvents → edges → node → user → id); 3 levels spare for new relations. */
export const MAX_DEPTH = 8;
/** No client here needs aliases; 10 allows a dashboard of a few filtered counts but bounds how often one request runs a resolver. */
export const MAX_ALIASES = 10;
/** GraphiQL's introspection query (every option on) has 184 tokens, the largest operation 82; over 1,000 is abuse. */
export const MAX_TOKENS = 1000;
/** A full page (first: 100) of users with every field costs 5,225, of audit events with both users 14,000; a few such pages more is abuse. */
export const MAX_COST = 20_000;
/** Enough for an @include/@skip on every field of a large admin form. */
export const MAX_DIRECTIVES = 20;

/** Armor throws "Syntax Error: ..." without a code; refuse with the contract's BAD_USER_INPUT instead. */
function refuse(_context: unknown, error: GraphQLError): never {
  throw new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: 'BAD_USER_INPUT' } });
}

const callbacks = { onReject: [refuse], propagateOnRejection: true, exposeLimits: true };

const SUGGESTION_MASK = '[Suggestion hidden]';

/**
 * Armor's suggestion blocker only rewrites validation errors of the form `Did you mean "x"?`, so
 * enum values (`Did you mean the enum value "X"?`) and input fields of variables (checked when the
 * operation starts executing) would still name parts of the schema: mask those on the way out.
 */
const hideRemainingSuggestions: Plugin = {
  onResultProcess({ result }) {
    if (Symbol.asyncIterator in result) return;
    for (const single of Array.isArray(result) ? result : [result]) {
      for (const error of single.errors ?? []) {
        (error as { message: string }).message = error.message.replace(/Did you mean [^?]*\?/g, SUGGESTION_MASK);
      }
    }
  },
};

/** The limits as Yoga plugins; "Did you mean ..." suggestions are hidden in production only. */
export function queryLimitPlugins({ production }: { production: boolean }) {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: MAX_DEPTH, flattenFragments: true, ignoreIntrospection: true, ...callbacks },
    maxAliases: { n: MAX_ALIASES, allowList: [], ...callbacks },
    maxTokens: { n: MAX_TOKENS, ...callbacks },
    costLimit: { maxCost: MAX_COST, flattenFragments: true, ignoreIntrospection: true, ...callbacks },
    maxDirectives: { n: MAX_DIRECTIVES, ...callbacks },
    blockFieldSuggestion: { enabled: production, mask: SUGGESTION_MASK },
  });
  return production ? [armor, hideRemainingSuggestions] : [armor];
}
