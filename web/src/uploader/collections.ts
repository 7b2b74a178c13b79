// Collections are the server's upload profiles (avatars, documents, ...):
// each has its own content types, largest file, files per request, and
// whether its files are public. The client checks a file against them
// before asking, with the server's rules and words, so that a refusal
// costs no round trip; the server checks again, and its word is final.
import type { Api } from './api';
import { Collections } from './documents';
import { FilegraphError, type Problem } from './errors';

export interface Collection {
  name: string;
  /** Media types or type/* patterns; empty allows every type. */
  allowedContentTypes: string[];
  maxFileSize: number;
  /** Most files of this collection in one request; null: only the server's per-call bound. */
  maxFilesPerRequest?: number | null;
  /** Its files have a stable, unsigned URL (File.url). */
  public: boolean;
}

/** The collections uploads may name, `default` first. */
export async function loadCollections(api: Api): Promise<Collection[]> {
  return (await api.query(Collections, {})).collections;
}

/** The server's default for a file that names no type. */
const DEFAULT_TYPE = 'application/octet-stream';

/** Whether a media type (parameters ignored, any case) is among allowed, as the server decides. */
export function allowsType(allowed: readonly string[], contentType: string): boolean {
  if (allowed.length === 0) return true;
  const mt = (contentType.split(';')[0] ?? '').trim().toLowerCase() || DEFAULT_TYPE;
  const top = mt.split('/')[0];
  return allowed.some((a) => a === mt || a === '*/*' || (a.endsWith('/*') && a.slice(0, -2) === top));
}

/** What a file is known by: a File, or its name, size and type. */
export interface FileFacts {
  name: string;
  size: number;
  type: string;
}

/**
 * What collection `name` (default when empty) refuses of file, as the
 * server would say it; empty when nothing. The field is the file's own
 * (`size`, `contentType`, `collection`).
 */
export function checkFile(collections: readonly Collection[], name: string | null | undefined, file: FileFacts): Problem[] {
  const cname = name || 'default';
  const c = collections.find((x) => x.name === cname);
  if (!c) {
    return [
      {
        field: 'collection',
        message: `"${file.name}" names collection "${cname}", which does not exist; the collections are ${collections.map((x) => x.name).join(', ')}`,
      },
    ];
  }
  const out: Problem[] = [];
  const type = file.type || DEFAULT_TYPE;
  if (file.size > c.maxFileSize) {
    out.push({
      field: 'size',
      message:
        c.name === 'default'
          ? `${file.size} bytes is over the limit of ${c.maxFileSize} bytes by ${file.size - c.maxFileSize}`
          : `"${file.name}" is ${file.size} bytes, over the maxFileSize of collection "${c.name}" (${c.maxFileSize} bytes) by ${file.size - c.maxFileSize}`,
    });
  }
  if (!allowsType(c.allowedContentTypes, type)) {
    out.push({
      field: 'contentType',
      message:
        c.name === 'default'
          ? `"${type}" is not allowed; allowed are ${c.allowedContentTypes.join(', ')}`
          : `"${file.name}" is ${type}, which collection "${c.name}" does not allow (allowedContentTypes: ${c.allowedContentTypes.join(', ')})`,
    });
  }
  return out;
}

/** checkFile's problems as the error the server would have answered. */
export function refusal(problems: Problem[]): FilegraphError {
  return new FilegraphError('BAD_USER_INPUT', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { problems });
}
