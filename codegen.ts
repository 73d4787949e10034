import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents for the operations the tests (and example clients) send.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['tests/**/*.ts', 'examples/**/*.ts', '!tests/generated/**'],
  ignoreNoDocuments: true,
  generates: {
    'tests/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
  },
  silent: true,
};

export default config;
