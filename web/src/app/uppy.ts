// Uppy's Dashboard uploading through Filegraph. @uppy/aws-s3 5.x lets an
// app supply each step as a function, so each becomes a Filegraph call:
// the bytes go straight to storage, the server signs and saves.
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';
import './style.css';
import Uppy, { type Body, type Meta, type UppyFile } from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import AwsS3 from '@uppy/aws-s3';
import {
  AbortUpload,
  CreateMultipartUploads,
  CreateUploadUrls,
  FilegraphError,
  PendingUploadParts,
  SaveFiles,
  UploadPartUrls,
  XHRHttpStack,
  createApi,
  describe,
  sha256Base64,
} from '../uploader';
import { apiURL, tokenField } from './session';

interface FileMeta extends Meta {
  /** The key Filegraph issued for the file. */
  fileName?: string;
  /** Set once saveFiles saved it (parts: on completion). */
  saved?: boolean;
}
type File = UppyFile<FileMeta, Body>;

const token = tokenField(document.querySelector<HTMLInputElement>('#token')!);
const api = createApi({ url: apiURL(), token, persisted: import.meta.env.PROD });
const errorBox = document.querySelector<HTMLElement>('#error')!;

// Files over this size go in parts (?multipart=BYTES to change it).
const multipartFrom = Number(new URLSearchParams(location.search).get('multipart') ?? 64 * 1024 ** 2);
// The server chooses each upload's part size; Uppy asks for it before it
// calls createMultipartUpload, so the upload is created by a pre-processor
// and its part size kept here, by the file's data.
const partSizes = new WeakMap<Blob, number>();

// Part PUTs go by the client's XHR stack, for upload progress.
const stack = new XHRHttpStack();

/** Headers for a presigned request, less Content-Length (the browser sets it). */
const headersOf = (list: ReadonlyArray<{ name: string; value: string }>) =>
  Object.fromEntries(list.filter((h) => h.name.toLowerCase() !== 'content-length').map((h) => [h.name, h.value]));

const uppy = new Uppy<FileMeta, Body>({ autoProceed: false })
  .use(Dashboard, { inline: true, target: '#uppy', height: 420, proudlyDisplayPoweredByUppy: false, note: 'Files go straight to storage through Filegraph.' })
  .use(AwsS3, {
    limit: 4,
    shouldUseMultipart: (file: File) => (file.size ?? 0) > multipartFrom,
    getChunkSize: (data: { size: number }) => partSizes.get(data as Blob) ?? 5 * 1024 ** 2,
    // Uploads in parts: each step a Filegraph call.
    async createMultipartUpload(file: File) {
      return { uploadId: file.meta.fileName!, key: file.meta.fileName! };
    },
    async signPart(_file: File, { key, partNumber, body }: { key: string; partNumber: number; body: Blob }) {
      // Signed for the part's SHA-256: the store refuses other bytes.
      const checksumSHA256 = await sha256Base64(body);
      const { uploadPartUrls } = await api.mutate(UploadPartUrls, { fileName: key, parts: [{ partNumber, checksumSHA256 }] });
      const p = uploadPartUrls[0]!;
      return { method: 'PUT' as const, url: p.url, headers: headersOf(p.headers) };
    },
    async listParts(_file: File, { key }: { key: string }) {
      const { upload } = await api.query(PendingUploadParts, { fileName: key });
      // No ETags: Filegraph lists the parts in the store itself on save.
      return (upload?.uploadedParts ?? []).map((p) => ({ PartNumber: p.partNumber, Size: p.size, ETag: '' }));
    },
    async completeMultipartUpload(file: File, { key }: { key: string }) {
      await api.mutate(SaveFiles, { files: [{ fileName: key, originalName: file.name ?? 'file' }] });
      uppy.setFileMeta(file.id, { saved: true });
      return {};
    },
    async abortMultipartUpload(_file: File, { key }: { key: string }) {
      await api.mutate(AbortUpload, { fileName: key });
    },
    // The part PUT itself, so that no ETag header must be readable (the
    // browser would need the storage's CORS to expose it).
    async uploadPartBytes({ signature, body, onProgress, onComplete, signal }) {
      const headers = Object.entries(signature.headers ?? {}).map(([name, value]) => ({ name, value }));
      const status = await stack.put({ url: signature.url, method: signature.method ?? 'PUT', headers }, body as Blob, {
        signal: signal ?? new AbortController().signal,
        onProgress: (loaded) => onProgress({ loaded, lengthComputable: true } as ProgressEvent),
      });
      if (status < 200 || status >= 300) {
        // Uppy decides on retries by err.source.status (5xx and 429 are retried), as for its own PUTs.
        throw Object.assign(new FilegraphError('STORAGE_REJECTED', `the storage answered ${status}`, { status }), { source: { status } });
      }
      const result = { ETag: '' };
      onComplete(result.ETag);
      return result;
    },
    // One presigned PUT: createUploadUrls.
    async getUploadParameters(file: File) {
      const { createUploadUrls } = await api.mutate(CreateUploadUrls, {
        files: [{ originalName: file.name ?? 'file', size: file.size ?? 0, contentType: file.type || null }],
      });
      const u = createUploadUrls[0]!;
      uppy.setFileMeta(file.id, { fileName: u.fileName });
      return { method: 'PUT' as const, url: u.url, headers: headersOf(u.headers) };
    },
  });

// Before the bytes: create the uploads in parts, so that their part size is
// known when Uppy cuts the file.
uppy.addPreProcessor(async (fileIDs) => {
  const big = fileIDs.map((id) => uppy.getFile(id)).filter((f) => (f.size ?? 0) > multipartFrom && !f.meta.fileName);
  if (big.length === 0) return;
  const { createMultipartUploads } = await api.mutate(CreateMultipartUploads, {
    files: big.map((f) => ({ originalName: f.name ?? 'file', size: f.size ?? 0, contentType: f.type || null, partChecksums: true })),
  });
  big.forEach((f, i) => {
    const m = createMultipartUploads[i]!;
    uppy.setFileMeta(f.id, { fileName: m.fileName });
    partSizes.set(f.data as Blob, m.partSize);
  });
});

// After the bytes: saveFiles for every single PUT that arrived, in one call.
uppy.addPostProcessor(async (fileIDs) => {
  const files = fileIDs.map((id) => uppy.getFile(id)).filter((f) => f.meta.fileName && !f.meta.saved);
  if (files.length === 0) return;
  files.forEach((f) => uppy.emit('postprocess-progress', f, { mode: 'indeterminate', message: 'Saving…' }));
  try {
    await api.mutate(SaveFiles, { files: files.map((f) => ({ fileName: f.meta.fileName!, originalName: f.name ?? 'file' })) });
  } finally {
    files.forEach((f) => uppy.emit('postprocess-complete', f));
  }
});

uppy.on('complete', (result) => {
  document.body.dataset.saved = String((result.successful ?? []).length);
});
uppy.on('error', (e) => {
  errorBox.textContent = describe(e);
  errorBox.hidden = false;
});
uppy.on('upload-error', (_file, e) => {
  errorBox.textContent = describe(e);
  errorBox.hidden = false;
});

// For tests and the curious.
(window as unknown as { uppy: typeof uppy }).uppy = uppy;
