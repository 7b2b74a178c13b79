/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation CreateUploadUrls($files: [UploadRequest!]!) {\n    createUploadUrls(files: $files) {\n      fileName\n      originalName\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n": typeof types.CreateUploadUrlsDocument,
    "\n  mutation SaveFiles($files: [SaveFileInput!]!) {\n    saveFiles(files: $files) {\n      id\n      fileName\n      originalName\n      size\n      contentType\n      createdAt\n      collection\n      folder\n      metadata\n      url\n      status\n    }\n  }\n": typeof types.SaveFilesDocument,
    "\n  query Files(\n    $first: Int\n    $after: Cursor\n    $last: Int\n    $before: Cursor\n    $orderBy: FileOrder\n    $where: FileWhereInput\n  ) {\n    files(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, where: $where) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        node {\n          id\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          collection\n          folder\n          metadata\n          url\n          status\n          scanResult\n          # A signed link per file, so a download needs no fileDownloadUrl\n          # round trip; null (reason in errors) while the scan holds it.\n          downloadUrl {\n            url\n            expiresAt\n          }\n          # Its images (thumb, preview) once made: VARIANTS_READY says when.\n          # Each url is signed like downloadUrl, with the same lifetime.\n          variants {\n            name\n            width\n            height\n            url\n          }\n        }\n      }\n    }\n  }\n": typeof types.FilesDocument,
    "\n  query Collections {\n    collections {\n      name\n      allowedContentTypes\n      maxFileSize\n      maxFilesPerRequest\n      public\n    }\n  }\n": typeof types.CollectionsDocument,
    "\n  query FileDownloadUrl($id: ID!, $variant: String) {\n    fileDownloadUrl(id: $id, variant: $variant) {\n      url\n      expiresAt\n    }\n  }\n": typeof types.FileDownloadUrlDocument,
    "\n  mutation DeleteFile($id: ID!) {\n    deleteFile(id: $id)\n  }\n": typeof types.DeleteFileDocument,
    "\n  mutation CreateMultipartUploads($files: [MultipartUploadRequest!]!) {\n    createMultipartUploads(files: $files) {\n      fileName\n      originalName\n      size\n      partSize\n      partCount\n      expiresAt\n    }\n  }\n": typeof types.CreateMultipartUploadsDocument,
    "\n  mutation UploadPartUrls($fileName: String!, $parts: [UploadPartRequest!]!) {\n    uploadPartUrls(fileName: $fileName, parts: $parts) {\n      partNumber\n      size\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n": typeof types.UploadPartUrlsDocument,
    "\n  query PendingUploadParts($fileName: String!) {\n    upload(fileName: $fileName) {\n      fileName\n      size\n      partSize\n      partCount\n      uploadedParts {\n        partNumber\n        size\n      }\n    }\n  }\n": typeof types.PendingUploadPartsDocument,
    "\n  query PendingUploads($first: Int, $after: Cursor) {\n    uploads(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          expiresAt\n          partSize\n          partCount\n        }\n      }\n    }\n  }\n": typeof types.PendingUploadsDocument,
    "\n  mutation AbortUpload($fileName: String!) {\n    abortUpload(fileName: $fileName)\n  }\n": typeof types.AbortUploadDocument,
    "\n  subscription FileEvents($collection: String) {\n    fileEvents(collection: $collection) {\n      id\n      type\n      fileId\n      at\n      file {\n        id\n        originalName\n        size\n        contentType\n        createdAt\n      }\n    }\n  }\n": typeof types.FileEventsDocument,
    "\n  query Folders($parent: String, $collection: String) {\n    folders(parent: $parent, collection: $collection) {\n      path\n      name\n      fileCount\n    }\n  }\n": typeof types.FoldersDocument,
    "\n  mutation UpdateFile($id: ID!, $input: UpdateFileInput!) {\n    updateFile(id: $id, input: $input) {\n      id\n      originalName\n      folder\n      metadata\n      collection\n    }\n  }\n": typeof types.UpdateFileDocument,
    "\n  mutation DeleteFiles($ids: [ID!]!) {\n    deleteFiles(ids: $ids)\n  }\n": typeof types.DeleteFilesDocument,
};
const documents: Documents = {
    "\n  mutation CreateUploadUrls($files: [UploadRequest!]!) {\n    createUploadUrls(files: $files) {\n      fileName\n      originalName\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n": types.CreateUploadUrlsDocument,
    "\n  mutation SaveFiles($files: [SaveFileInput!]!) {\n    saveFiles(files: $files) {\n      id\n      fileName\n      originalName\n      size\n      contentType\n      createdAt\n      collection\n      folder\n      metadata\n      url\n      status\n    }\n  }\n": types.SaveFilesDocument,
    "\n  query Files(\n    $first: Int\n    $after: Cursor\n    $last: Int\n    $before: Cursor\n    $orderBy: FileOrder\n    $where: FileWhereInput\n  ) {\n    files(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, where: $where) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        node {\n          id\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          collection\n          folder\n          metadata\n          url\n          status\n          scanResult\n          # A signed link per file, so a download needs no fileDownloadUrl\n          # round trip; null (reason in errors) while the scan holds it.\n          downloadUrl {\n            url\n            expiresAt\n          }\n          # Its images (thumb, preview) once made: VARIANTS_READY says when.\n          # Each url is signed like downloadUrl, with the same lifetime.\n          variants {\n            name\n            width\n            height\n            url\n          }\n        }\n      }\n    }\n  }\n": types.FilesDocument,
    "\n  query Collections {\n    collections {\n      name\n      allowedContentTypes\n      maxFileSize\n      maxFilesPerRequest\n      public\n    }\n  }\n": types.CollectionsDocument,
    "\n  query FileDownloadUrl($id: ID!, $variant: String) {\n    fileDownloadUrl(id: $id, variant: $variant) {\n      url\n      expiresAt\n    }\n  }\n": types.FileDownloadUrlDocument,
    "\n  mutation DeleteFile($id: ID!) {\n    deleteFile(id: $id)\n  }\n": types.DeleteFileDocument,
    "\n  mutation CreateMultipartUploads($files: [MultipartUploadRequest!]!) {\n    createMultipartUploads(files: $files) {\n      fileName\n      originalName\n      size\n      partSize\n      partCount\n      expiresAt\n    }\n  }\n": types.CreateMultipartUploadsDocument,
    "\n  mutation UploadPartUrls($fileName: String!, $parts: [UploadPartRequest!]!) {\n    uploadPartUrls(fileName: $fileName, parts: $parts) {\n      partNumber\n      size\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n": types.UploadPartUrlsDocument,
    "\n  query PendingUploadParts($fileName: String!) {\n    upload(fileName: $fileName) {\n      fileName\n      size\n      partSize\n      partCount\n      uploadedParts {\n        partNumber\n        size\n      }\n    }\n  }\n": types.PendingUploadPartsDocument,
    "\n  query PendingUploads($first: Int, $after: Cursor) {\n    uploads(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          expiresAt\n          partSize\n          partCount\n        }\n      }\n    }\n  }\n": types.PendingUploadsDocument,
    "\n  mutation AbortUpload($fileName: String!) {\n    abortUpload(fileName: $fileName)\n  }\n": types.AbortUploadDocument,
    "\n  subscription FileEvents($collection: String) {\n    fileEvents(collection: $collection) {\n      id\n      type\n      fileId\n      at\n      file {\n        id\n        originalName\n        size\n        contentType\n        createdAt\n      }\n    }\n  }\n": types.FileEventsDocument,
    "\n  query Folders($parent: String, $collection: String) {\n    folders(parent: $parent, collection: $collection) {\n      path\n      name\n      fileCount\n    }\n  }\n": types.FoldersDocument,
    "\n  mutation UpdateFile($id: ID!, $input: UpdateFileInput!) {\n    updateFile(id: $id, input: $input) {\n      id\n      originalName\n      folder\n      metadata\n      collection\n    }\n  }\n": types.UpdateFileDocument,
    "\n  mutation DeleteFiles($ids: [ID!]!) {\n    deleteFiles(ids: $ids)\n  }\n": types.DeleteFilesDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateUploadUrls($files: [UploadRequest!]!) {\n    createUploadUrls(files: $files) {\n      fileName\n      originalName\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  mutation CreateUploadUrls($files: [UploadRequest!]!) {\n    createUploadUrls(files: $files) {\n      fileName\n      originalName\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SaveFiles($files: [SaveFileInput!]!) {\n    saveFiles(files: $files) {\n      id\n      fileName\n      originalName\n      size\n      contentType\n      createdAt\n      collection\n      folder\n      metadata\n      url\n      status\n    }\n  }\n"): (typeof documents)["\n  mutation SaveFiles($files: [SaveFileInput!]!) {\n    saveFiles(files: $files) {\n      id\n      fileName\n      originalName\n      size\n      contentType\n      createdAt\n      collection\n      folder\n      metadata\n      url\n      status\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Files(\n    $first: Int\n    $after: Cursor\n    $last: Int\n    $before: Cursor\n    $orderBy: FileOrder\n    $where: FileWhereInput\n  ) {\n    files(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, where: $where) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        node {\n          id\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          collection\n          folder\n          metadata\n          url\n          status\n          scanResult\n          # A signed link per file, so a download needs no fileDownloadUrl\n          # round trip; null (reason in errors) while the scan holds it.\n          downloadUrl {\n            url\n            expiresAt\n          }\n          # Its images (thumb, preview) once made: VARIANTS_READY says when.\n          # Each url is signed like downloadUrl, with the same lifetime.\n          variants {\n            name\n            width\n            height\n            url\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Files(\n    $first: Int\n    $after: Cursor\n    $last: Int\n    $before: Cursor\n    $orderBy: FileOrder\n    $where: FileWhereInput\n  ) {\n    files(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, where: $where) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        node {\n          id\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          collection\n          folder\n          metadata\n          url\n          status\n          scanResult\n          # A signed link per file, so a download needs no fileDownloadUrl\n          # round trip; null (reason in errors) while the scan holds it.\n          downloadUrl {\n            url\n            expiresAt\n          }\n          # Its images (thumb, preview) once made: VARIANTS_READY says when.\n          # Each url is signed like downloadUrl, with the same lifetime.\n          variants {\n            name\n            width\n            height\n            url\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Collections {\n    collections {\n      name\n      allowedContentTypes\n      maxFileSize\n      maxFilesPerRequest\n      public\n    }\n  }\n"): (typeof documents)["\n  query Collections {\n    collections {\n      name\n      allowedContentTypes\n      maxFileSize\n      maxFilesPerRequest\n      public\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FileDownloadUrl($id: ID!, $variant: String) {\n    fileDownloadUrl(id: $id, variant: $variant) {\n      url\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  query FileDownloadUrl($id: ID!, $variant: String) {\n    fileDownloadUrl(id: $id, variant: $variant) {\n      url\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteFile($id: ID!) {\n    deleteFile(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteFile($id: ID!) {\n    deleteFile(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateMultipartUploads($files: [MultipartUploadRequest!]!) {\n    createMultipartUploads(files: $files) {\n      fileName\n      originalName\n      size\n      partSize\n      partCount\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  mutation CreateMultipartUploads($files: [MultipartUploadRequest!]!) {\n    createMultipartUploads(files: $files) {\n      fileName\n      originalName\n      size\n      partSize\n      partCount\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UploadPartUrls($fileName: String!, $parts: [UploadPartRequest!]!) {\n    uploadPartUrls(fileName: $fileName, parts: $parts) {\n      partNumber\n      size\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  mutation UploadPartUrls($fileName: String!, $parts: [UploadPartRequest!]!) {\n    uploadPartUrls(fileName: $fileName, parts: $parts) {\n      partNumber\n      size\n      url\n      method\n      headers {\n        name\n        value\n      }\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PendingUploadParts($fileName: String!) {\n    upload(fileName: $fileName) {\n      fileName\n      size\n      partSize\n      partCount\n      uploadedParts {\n        partNumber\n        size\n      }\n    }\n  }\n"): (typeof documents)["\n  query PendingUploadParts($fileName: String!) {\n    upload(fileName: $fileName) {\n      fileName\n      size\n      partSize\n      partCount\n      uploadedParts {\n        partNumber\n        size\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PendingUploads($first: Int, $after: Cursor) {\n    uploads(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          expiresAt\n          partSize\n          partCount\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query PendingUploads($first: Int, $after: Cursor) {\n    uploads(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          fileName\n          originalName\n          size\n          contentType\n          createdAt\n          expiresAt\n          partSize\n          partCount\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AbortUpload($fileName: String!) {\n    abortUpload(fileName: $fileName)\n  }\n"): (typeof documents)["\n  mutation AbortUpload($fileName: String!) {\n    abortUpload(fileName: $fileName)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription FileEvents($collection: String) {\n    fileEvents(collection: $collection) {\n      id\n      type\n      fileId\n      at\n      file {\n        id\n        originalName\n        size\n        contentType\n        createdAt\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription FileEvents($collection: String) {\n    fileEvents(collection: $collection) {\n      id\n      type\n      fileId\n      at\n      file {\n        id\n        originalName\n        size\n        contentType\n        createdAt\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Folders($parent: String, $collection: String) {\n    folders(parent: $parent, collection: $collection) {\n      path\n      name\n      fileCount\n    }\n  }\n"): (typeof documents)["\n  query Folders($parent: String, $collection: String) {\n    folders(parent: $parent, collection: $collection) {\n      path\n      name\n      fileCount\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateFile($id: ID!, $input: UpdateFileInput!) {\n    updateFile(id: $id, input: $input) {\n      id\n      originalName\n      folder\n      metadata\n      collection\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateFile($id: ID!, $input: UpdateFileInput!) {\n    updateFile(id: $id, input: $input) {\n      id\n      originalName\n      folder\n      metadata\n      collection\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteFiles($ids: [ID!]!) {\n    deleteFiles(ids: $ids)\n  }\n"): (typeof documents)["\n  mutation DeleteFiles($ids: [ID!]!) {\n    deleteFiles(ids: $ids)\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;