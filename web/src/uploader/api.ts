// The GraphQL side of the client: urql's core (no UI framework, no cache:
// every call here is a command or a fresh listing) with the typed documents
// graphql-codegen made from schema.graphql.
import { Client, fetchExchange, makeOperation, type Exchange, type Operation, type TypedDocumentNode, type AnyVariables } from '@urql/core';
import { filter, makeSubject, map, merge, pipe } from 'wonka';
import { FilegraphError, fromCombined, fromGraphQLError } from './errors';

export interface ApiOptions {
  /** The GraphQL endpoint, e.g. https://files.example.com/query. */
  url: string;
  /** The bearer token for each request, if the server has auth on. */
  token?: () => string | null | undefined;
  /**
   * Send operations by their persisted-document hash first (the server's
   * GRAPHQL_TRUSTED_DOCUMENTS manifest). A server without the manifest
   * answers PERSISTED_QUERY_NOT_FOUND once; the client then sends text.
   */
  persisted?: boolean;
}

/** An error the server sent beside data: the field it nulled, and why. */
export interface FieldError {
  /** Where in the answer, e.g. ['files', 'edges', 3, 'node', 'downloadUrl']. */
  path: readonly (string | number)[];
  error: FilegraphError;
}

/** A typed call: its data, or a FilegraphError. */
export interface Api {
  query<R, V extends AnyVariables>(doc: TypedDocumentNode<R, V>, variables: V): Promise<R>;
  mutate<R, V extends AnyVariables>(doc: TypedDocumentNode<R, V>, variables: V): Promise<R>;
  /**
   * A query whose nullable fields may come back null with their reasons in
   * errors (File.downloadUrl of a file the virus scan holds): the data and
   * those errors; a FilegraphError only if there is no data at all.
   */
  queryPartial<R, V extends AnyVariables>(doc: TypedDocumentNode<R, V>, variables: V): Promise<{ data: R; errors: FieldError[] }>;
}

export function createApi(options: ApiOptions): Api {
  const client = new Client({
    url: options.url,
    exchanges: options.persisted === false ? [fetchExchange] : [persistedDocumentsExchange(), fetchExchange],
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: (): RequestInit => {
      const token = options.token?.();
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      return { headers };
    },
  });
  const unwrap = <R>(result: { data?: R; error?: import('@urql/core').CombinedError }): R => {
    if (result.error) throw fromCombined(result.error);
    if (result.data == null) throw new FilegraphError('INTERNAL_SERVER_ERROR', 'the server sent no data');
    return result.data;
  };
  return {
    async query(doc, variables) {
      return unwrap(await client.query(doc, variables).toPromise());
    },
    async mutate(doc, variables) {
      return unwrap(await client.mutation(doc, variables).toPromise());
    },
    async queryPartial(doc, variables) {
      const result = await client.query(doc, variables).toPromise();
      if (result.data == null) return { data: unwrap(result), errors: [] };
      // A network error beside data does not happen; errors without a path
      // (the whole operation refused) come with no data.
      const errors = (result.error?.graphQLErrors ?? []).map((e) => ({ path: e.path ?? [], error: fromGraphQLError(e) }));
      return { data: result.data, errors };
    },
  };
}

/** The hash graphql-codegen's client-preset put on a document, as hex. */
function documentHash(op: Operation): string | undefined {
  const meta = (op.query as { __meta__?: { hash?: string } }).__meta__;
  return meta?.hash?.replace(/^sha256:/, '');
}

/**
 * Sends each operation as its persisted-document hash (APQ's
 * extensions.persistedQuery), the form a GRAPHQL_TRUSTED_DOCUMENTS server
 * accepts. If the server does not know a hash it says so with
 * PERSISTED_QUERY_NOT_FOUND: the operation is sent again as text, and so is
 * every later one, since that server does not hold this client's manifest.
 */
export function persistedDocumentsExchange(): Exchange {
  let serverHasManifest = true;
  return ({ forward }) =>
    (operations$) => {
      const retries = makeSubject<Operation>();
      const hashed = pipe(
        operations$,
        map((op) => {
          const hash = documentHash(op);
          if (!serverHasManifest || !hash || op.kind === 'teardown') return op;
          return makeOperation(op.kind, { ...op, extensions: { ...op.extensions, persistedQuery: { version: 1, sha256Hash: hash } } }, op.context);
        }),
      );
      return pipe(
        merge([hashed, retries.source]),
        forward,
        filter((result) => {
          const sent = result.operation.extensions?.persistedQuery;
          const notFound = result.error?.graphQLErrors.some((e) => e.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND');
          if (!sent || !notFound) return true;
          serverHasManifest = false;
          const { persistedQuery: _, ...extensions } = result.operation.extensions ?? {};
          retries.next(makeOperation(result.operation.kind, { ...result.operation, extensions }, result.operation.context));
          return false;
        }),
      );
    };
}
