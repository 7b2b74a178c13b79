// Listing files with their download links in the same request (the Files
// document asks File.downloadUrl of each), instead of one fileDownloadUrl
// round trip per download; fileDownloadUrl remains for a link that has
// expired since the list was read, or a file that had none then.
import type { Api } from './api';
import { FileDownloadUrl, Files } from './documents';
import type { FilegraphError } from './errors';
import type { FilesQuery, FilesQueryVariables } from '../gql/graphql';

/** One listed file, as the Files document asks it. */
export type ListedFile = NonNullable<NonNullable<NonNullable<FilesQuery['files']['edges']>[number]>['node']>;

export interface FileList {
  files: FilesQuery['files'];
  /**
   * Why a listed file has no downloadUrl, by id: FILE_NOT_READY (the virus
   * scan holds it; details.fileStatus) or FILE_INFECTED. The rest of the
   * list stands.
   */
  unavailable: Map<string, FilegraphError>;
}

/**
 * A page of files with their download links. The server prices each link as
 * a list item (GRAPHQL_MAX_COMPLEXITY): the largest page, 100, stays well
 * within the default limit. Any error but a file's missing link throws.
 */
export async function listFiles(api: Api, variables: FilesQueryVariables): Promise<FileList> {
  const { data, errors } = await api.queryPartial(Files, variables);
  const unavailable = new Map<string, FilegraphError>();
  for (const { path, error } of errors) {
    const [root, edges, i, node, field] = path;
    const id =
      path.length === 5 && root === 'files' && edges === 'edges' && typeof i === 'number' && node === 'node' && field === 'downloadUrl'
        ? data.files.edges?.[i]?.node?.id
        : undefined;
    if (id === undefined) throw error;
    unavailable.set(id, error);
  }
  return { files: data.files, unavailable };
}

/**
 * A link listed with less than this left is asked for anew: the click, the
 * storage's clock and the browser's may each be a little late.
 */
export const LINK_MARGIN_MS = 30_000;

/**
 * The URL that downloads a listed file: the link the list brought while it
 * has time left, else a fresh one from fileDownloadUrl (one round trip; a
 * file still held by the scan throws FILE_NOT_READY then).
 */
export async function downloadLink(api: Api, file: Pick<ListedFile, 'id' | 'downloadUrl'>, now: number = Date.now()): Promise<string> {
  const link = file.downloadUrl;
  if (link && Date.parse(link.expiresAt) - now > LINK_MARGIN_MS) return link.url;
  const { fileDownloadUrl } = await api.query(FileDownloadUrl, { id: file.id });
  return fileDownloadUrl.url;
}
