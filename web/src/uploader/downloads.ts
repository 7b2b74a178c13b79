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

/** One of a listed file's variants (an image made of it: thumb, preview). */
export type ListedVariant = ListedFile['variants'][number];

/**
 * The variant to show in a box: by name (`"thumb"`), or the smallest that
 * covers width x height (both sides at least the box's; the largest there is
 * when none covers it). undefined while the file has none: not an image, its
 * variants not made yet (VARIANTS_READY says when), or not READY.
 */
export function thumbnailFor(
  file: Pick<ListedFile, 'variants'>,
  want: string | { width: number; height: number },
): ListedVariant | undefined {
  const vs = file.variants;
  if (typeof want === 'string') return vs.find((v) => v.name === want);
  const area = (v: ListedVariant) => v.width * v.height;
  const covering = vs.filter((v) => v.width >= want.width && v.height >= want.height).sort((a, b) => area(a) - area(b));
  return covering[0] ?? [...vs].sort((a, b) => area(b) - area(a))[0];
}

export interface DownloadLinkOptions {
  /** A variant's name (thumb, preview): its link instead of the original's. */
  variant?: string;
  /** The clock to judge the listed link's expiry by (tests). */
  now?: number;
}

/**
 * The URL that downloads a listed file, or with `variant` that variant of
 * it: the link the list brought while it has time left, else a fresh one
 * from fileDownloadUrl (one round trip). A file still held by the scan
 * throws FILE_NOT_READY then; a variant the file does not have yet
 * VARIANT_NOT_READY (details.pending: its job is still due), one its
 * collection does not configure BAD_USER_INPUT. A private file's variant
 * URLs are signed in the same request as its downloadUrl, for the same
 * time, so downloadUrl.expiresAt dates them; a public file's are stable.
 */
export async function downloadLink(
  api: Api,
  file: Pick<ListedFile, 'id' | 'downloadUrl'> & Partial<Pick<ListedFile, 'url' | 'variants'>>,
  { variant, now = Date.now() }: DownloadLinkOptions = {},
): Promise<string> {
  const link = file.downloadUrl;
  const fresh = !!link && Date.parse(link.expiresAt) - now > LINK_MARGIN_MS;
  if (variant === undefined) {
    if (fresh) return link!.url;
  } else {
    const listed = file.variants?.find((v) => v.name === variant);
    if (listed && (fresh || file.url)) return listed.url;
  }
  const { fileDownloadUrl } = await api.query(FileDownloadUrl, { id: file.id, variant: variant ?? null });
  return fileDownloadUrl.url;
}
