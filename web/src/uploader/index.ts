// The Filegraph upload client for browsers: typed GraphQL calls (urql core
// on graphql-codegen's documents) and an Uploader that moves files straight
// to storage. No UI framework; see src/app for a page built on it.
//
// The pieces, for apps that bring their own scheduler (src/app/uppy.ts does,
// with Uppy's): the documents, the HTTP stacks that send one PUT, the retry
// policy, and the SHA-256 a checksummed URL is signed for.
export { createApi, persistedDocumentsExchange, type Api, type ApiOptions, type FieldError } from './api';
export { Uploader, type Upload, type UploadAttributes, type UploadStatus, type UploaderOptions, type SavedFile, type PendingMultipart } from './uploader';
export { loadCollections, checkFile, allowsType, refusal, type Collection, type FileFacts } from './collections';
export { listFiles, downloadLink, thumbnailFor, LINK_MARGIN_MS, type DownloadLinkOptions, type FileList, type ListedFile, type ListedVariant } from './downloads';
export { FilegraphError, describe, type ErrorCode, type Problem } from './errors';
export { XHRHttpStack, FetchHttpStack, defaultHttpStack, type HttpStack, type PutRequest, type PutOptions } from './http';
export { retrying, backoff, type RetryPolicy } from './retry';
export { sha256Base64 } from './checksum';
export { subscribeFileEvents, type FileEvent, type FileEventsOptions } from './events';
export {
  AbortUpload,
  Collections,
  CreateMultipartUploads,
  CreateUploadUrls,
  DeleteFile,
  FileDownloadUrl,
  FileEvents,
  Files,
  PendingUploadParts,
  PendingUploads,
  SaveFiles,
  UploadPartUrls,
} from './documents';
export { DeleteFiles, Folders, UpdateFile } from './folders';
