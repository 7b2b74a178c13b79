// The Filegraph upload client for browsers: typed GraphQL calls (urql core
// on graphql-codegen's documents) and an Uploader that moves files straight
// to storage. No UI framework; see src/app for a page built on it.
export { createApi, persistedDocumentsExchange, type Api, type ApiOptions } from './api';
export { Uploader, type Upload, type UploadStatus, type UploaderOptions, type SavedFile, type PendingMultipart } from './uploader';
export { FilegraphError, describe, type ErrorCode, type Problem } from './errors';
