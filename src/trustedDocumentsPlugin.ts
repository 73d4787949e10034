import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { plainHash, type TrustedDocuments } from './trustedDocuments.ts';

const ONLY_TRUSTED =
  'Only trusted documents run here: name one by its hash (extensions.persistedQuery.sha256Hash or documentId).';

/** The hash a request names: Apollo's `extensions.persistedQuery.sha256Hash`, or `documentId` (body or URL). */
function documentIdOf(params: GraphQLParams & { documentId?: unknown }, request: Request): string | null {
  const persistedQuery = params.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
  const id = persistedQuery?.sha256Hash ?? params.documentId ?? (request.method === 'GET' ? new URL(request.url).searchParams.get('documentId') : null);
  return typeof id === 'string' ? id : null;
}

/**
 * Runs only the documents of the manifest, named by hash; `mayRunAnyDocument` (staff) runs any
 * document, so GraphiQL keeps working for them. It is asked only of requests that send a document's
 * text, with the server context of the request (node's `req` and `res`).
 */
export function trustedDocumentsPlugins<ServerContext extends object>(
  documents: TrustedDocuments,
  mayRunAnyDocument: (serverContext: ServerContext) => Promise<boolean>,
): Plugin<Record<string, unknown>, ServerContext>[] {
  const serverContexts = new WeakMap<Request, ServerContext>();
  return [
    {
      onRequest({ request, serverContext }) {
        serverContexts.set(request, serverContext);
      },
    },
    usePersistedOperations({
      getPersistedOperation: (id) => documents.get(plainHash(id) ?? '') ?? null,
      extractPersistedOperationId: documentIdOf,
      allowArbitraryOperations: async (request) => {
        const serverContext = serverContexts.get(request);
        return serverContext !== undefined && (await mayRunAnyDocument(serverContext));
      },
      customErrors: {
        persistedQueryOnly: () => new GraphQLError(ONLY_TRUSTED, { extensions: { code: 'PERSISTED_QUERY_ONLY' } }),
        keyNotFound: () => new GraphQLError(ONLY_TRUSTED, { extensions: { code: 'PERSISTED_QUERY_ONLY' } }),
        notFound: () => new GraphQLError('No trusted document has this hash.', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }),
      },
    }) as Plugin<Record<string, unknown>, ServerContext>,
  ];
}
