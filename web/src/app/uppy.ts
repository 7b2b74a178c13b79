// Uppy's Dashboard uploading through Filegraph. @uppy/aws-s3 5.x lets an
// app supply each step as a function, so each becomes a Filegraph call:
// the bytes go straight to storage, the server signs and saves.
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';
import './style.css';
import Uppy, { type Body, type Meta, type UppyFile } from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import AwsS3 from '@uppy/aws-s3';
import { createApi, describe } from '../uploader';
import { CreateUploadUrls, SaveFiles } from '../uploader/documents';
import { apiURL, tokenField } from './session';

interface FileMeta extends Meta {
  /** The key Filegraph issued for the file. */
  fileName?: string;
}
type File = UppyFile<FileMeta, Body>;

const token = tokenField(document.querySelector<HTMLInputElement>('#token')!);
const api = createApi({ url: apiURL(), token, persisted: import.meta.env.PROD });
const errorBox = document.querySelector<HTMLElement>('#error')!;

/** Headers for a presigned request, less Content-Length (the browser sets it). */
const headersOf = (list: ReadonlyArray<{ name: string; value: string }>) =>
  Object.fromEntries(list.filter((h) => h.name.toLowerCase() !== 'content-length').map((h) => [h.name, h.value]));

const uppy = new Uppy<FileMeta, Body>({ autoProceed: false })
  .use(Dashboard, { inline: true, target: '#uppy', height: 420, proudlyDisplayPoweredByUppy: false, note: 'Files go straight to storage through Filegraph.' })
  .use(AwsS3, {
    limit: 4,
    shouldUseMultipart: false,
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

// After the bytes: saveFiles for every file that arrived, in one call.
uppy.addPostProcessor(async (fileIDs) => {
  const files = fileIDs.map((id) => uppy.getFile(id)).filter((f) => f.meta.fileName);
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
