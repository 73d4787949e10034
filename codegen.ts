import type { CodegenConfig } from '@graphql-codegen/cli';
import { addTypenameSelectionDocumentTransform } from '@graphql-codegen/client-preset';

const config = { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } };

// Typed documents for the operations the tests send (tests/generated), and for the example clients
// (examples/generated) with the manifest of their documents (persisted-documents.json: hash →
// document), which a server started with TRUSTED_DOCUMENTS runs.
const codegen: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: true,
  generates: {
    'tests/generated/': {
      documents: ['tests/**/*.ts', '!tests/generated/**'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config,
    },
    'examples/generated/': {
      documents: ['examples/**/*.ts', '!examples/generated/**'],
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
      // The documents as Apollo's and urql's caches send them (with __typename), so that the one a
      // client names by hash is the one the server runs.
      documentTransforms: [addTypenameSelectionDocumentTransform],
      config,
    },
  },
  silent: true,
};

export default codegen;
