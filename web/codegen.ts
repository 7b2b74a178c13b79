// Typed documents for the upload client and the demo, from the server's
// schema (../schema.graphql, written by `go generate`). `npm run codegen`
// rewrites src/gql; CI runs it with --check, so a schema change that breaks
// these documents fails there. The persisted-documents manifest it writes is
// what GRAPHQL_TRUSTED_DOCUMENTS takes.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        onlyOperationTypes: true,
        strictScalars: true,
        scalars: {
          Cursor: 'string',
          Int64: 'number',
          Time: 'string',
          ID: 'string',
          JSON: 'Record<string, string>',
        },
      },
    },
  },
};

export default config;
