// Errors the client surfaces, by the server's extensions.code, plus the
// client's own codes for what happens outside GraphQL.
import type { CombinedError } from '@urql/core';

type GraphQLError = CombinedError['graphQLErrors'][number];

/** Codes the server sends in extensions.code, and the client's own. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  // The virus scan holds the file (details.fileStatus: SCANNING, UNSCANNED),
  // or found it infected.
  | 'FILE_NOT_READY'
  | 'FILE_INFECTED'
  // fileDownloadUrl(id, variant): the file has no such variant yet
  // (details.pending: its job is still due; false: not an image that could
  // be decoded, none will come).
  | 'VARIANT_NOT_READY'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'UNTRUSTED_OPERATION'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'GRAPHQL_VALIDATION_FAILED'
  // The client's: no answer at all (offline, DNS, CORS refused).
  | 'NETWORK_ERROR'
  // The client's: the storage refused a PUT (status in `status`).
  | 'STORAGE_REJECTED'
  // The client's: the caller aborted.
  | 'ABORTED'
  | (string & {});

export interface Problem {
  field: string;
  message: string;
}

export class FilegraphError extends Error {
  override name = 'FilegraphError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: {
      problems?: Problem[];
      limit?: string;
      /** STORAGE_REJECTED: the storage's HTTP status. */
      status?: number;
      /** STORAGE_REJECTED: the URL had expired; a new one may pass. */
      expired?: boolean;
      requestId?: string;
      /** NOT_FOUND from deleteFiles: every id that is not one of the caller's files (nothing was deleted). */
      ids?: string[];
      /** FILE_NOT_READY, FILE_INFECTED: the file's status. */
      fileStatus?: string;
      /** VARIANT_NOT_READY: the variant asked. */
      variant?: string;
      /** VARIANT_NOT_READY: true while the job that makes it is due. */
      pending?: boolean;
    } = {},
  ) {
    super(message);
  }

  /**
   * Worth trying again: the cause may pass (a network error, 5xx, 429, 408,
   * UNAVAILABLE) or goes with a URL that is asked for anew (expired). The
   * one rule the client's retry policy (retry.ts) follows.
   */
  get retryable(): boolean {
    if (this.code === 'UNAVAILABLE' || this.code === 'NETWORK_ERROR') return true;
    if (this.code !== 'STORAGE_REJECTED') return false;
    const { status, expired } = this.details;
    return !!expired || status === undefined || status >= 500 || status === 429 || status === 408;
  }
}

/** The first error of a urql result as a FilegraphError. */
export function fromCombined(error: CombinedError): FilegraphError {
  const gql = error.graphQLErrors[0];
  if (gql) return fromGraphQLError(gql);
  return new FilegraphError('NETWORK_ERROR', error.networkError?.message ?? error.message);
}

/** One GraphQL error as a FilegraphError, by its extensions.code. */
export function fromGraphQLError(gql: GraphQLError): FilegraphError {
  const ext = gql.extensions ?? {};
  return new FilegraphError(String(ext.code ?? 'INTERNAL_SERVER_ERROR'), gql.message, {
    problems: ext.problems as Problem[] | undefined,
    limit: ext.limit as string | undefined,
    requestId: ext.requestId as string | undefined,
    ids: ext.ids as string[] | undefined,
    fileStatus: ext.status as string | undefined,
    variant: ext.variant as string | undefined,
    pending: ext.pending as boolean | undefined,
  });
}

/** A sentence for a person, for the codes a person can do something about. */
export function describe(e: unknown): string {
  if (!(e instanceof FilegraphError)) return e instanceof Error ? e.message : String(e);
  switch (e.code) {
    case 'NETWORK_ERROR':
      return 'The server could not be reached. Check your connection; the upload can be resumed.';
    case 'UNAUTHENTICATED':
      return 'Not signed in, or the token was refused: ' + e.message;
    case 'FORBIDDEN':
      return e.details.limit === 'USER_QUOTA_BYTES'
        ? 'Over your storage quota: ' + e.message
        : e.message;
    case 'BAD_USER_INPUT':
      return e.details.problems?.map((p) => p.message).join('; ') || e.message;
    case 'UNAVAILABLE':
      return 'The service is unavailable for a moment; nothing was lost, try again.';
    case 'FILE_NOT_READY':
      return e.details.fileStatus === 'UNSCANNED'
        ? 'This file is too large to be scanned for viruses, and is not served.'
        : 'This file is still being scanned for viruses; try again in a moment.';
    case 'FILE_INFECTED':
      return 'The virus scan found this file infected: it was deleted.';
    case 'VARIANT_NOT_READY':
      return e.details.pending === false
        ? `This file has no ${e.details.variant ?? 'variant'}: it is not an image that could be read.`
        : `The ${e.details.variant ?? 'variant'} of this file is still being made; try again in a moment.`;
    case 'STORAGE_REJECTED':
      return `The storage refused the upload (HTTP ${e.details.status ?? '?'}).`;
    case 'ABORTED':
      return 'Canceled.';
    default:
      return e.message;
  }
}
