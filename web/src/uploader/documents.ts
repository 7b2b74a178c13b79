// The operations the upload client and the demo send. Each is compiled by
// graphql-codegen into a typed document (src/gql) and listed in the
// persisted-documents manifest (src/gql/persisted-documents.json).
import { graphql } from '../gql';

export const CreateUploadUrls = graphql(`
  mutation CreateUploadUrls($files: [UploadRequest!]!) {
    createUploadUrls(files: $files) {
      fileName
      originalName
      url
      method
      headers {
        name
        value
      }
      expiresAt
    }
  }
`);

export const SaveFiles = graphql(`
  mutation SaveFiles($files: [SaveFileInput!]!) {
    saveFiles(files: $files) {
      id
      fileName
      originalName
      size
      contentType
      createdAt
      collection
      folder
      metadata
      url
      status
    }
  }
`);

export const Files = graphql(`
  query Files(
    $first: Int
    $after: Cursor
    $last: Int
    $before: Cursor
    $orderBy: FileOrder
    $where: FileWhereInput
  ) {
    files(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, where: $where) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        node {
          id
          fileName
          originalName
          size
          contentType
          createdAt
          collection
          folder
          metadata
          url
          status
          scanResult
          # A signed link per file, so a download needs no fileDownloadUrl
          # round trip; null (reason in errors) while the scan holds it.
          downloadUrl {
            url
            expiresAt
          }
          # Its images (thumb, preview) once made: VARIANTS_READY says when.
          # Each url is signed like downloadUrl, with the same lifetime.
          variants {
            name
            width
            height
            url
          }
        }
      }
    }
  }
`);

export const Collections = graphql(`
  query Collections {
    collections {
      name
      allowedContentTypes
      maxFileSize
      maxFilesPerRequest
      public
    }
  }
`);

export const FileDownloadUrl = graphql(`
  query FileDownloadUrl($id: ID!, $variant: String) {
    fileDownloadUrl(id: $id, variant: $variant) {
      url
      expiresAt
    }
  }
`);

export const DeleteFile = graphql(`
  mutation DeleteFile($id: ID!) {
    deleteFile(id: $id)
  }
`);
export const CreateMultipartUploads = graphql(`
  mutation CreateMultipartUploads($files: [MultipartUploadRequest!]!) {
    createMultipartUploads(files: $files) {
      fileName
      originalName
      size
      partSize
      partCount
      expiresAt
    }
  }
`);

export const UploadPartUrls = graphql(`
  mutation UploadPartUrls($fileName: String!, $parts: [UploadPartRequest!]!) {
    uploadPartUrls(fileName: $fileName, parts: $parts) {
      partNumber
      size
      url
      method
      headers {
        name
        value
      }
      expiresAt
    }
  }
`);

export const PendingUploadParts = graphql(`
  query PendingUploadParts($fileName: String!) {
    upload(fileName: $fileName) {
      fileName
      size
      partSize
      partCount
      uploadedParts {
        partNumber
        size
      }
    }
  }
`);

export const PendingUploads = graphql(`
  query PendingUploads($first: Int, $after: Cursor) {
    uploads(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          fileName
          originalName
          size
          contentType
          createdAt
          expiresAt
          partSize
          partCount
        }
      }
    }
  }
`);

export const AbortUpload = graphql(`
  mutation AbortUpload($fileName: String!) {
    abortUpload(fileName: $fileName)
  }
`);

export const FileEvents = graphql(`
  subscription FileEvents($collection: String) {
    fileEvents(collection: $collection) {
      id
      type
      fileId
      at
      file {
        id
        originalName
        size
        contentType
        createdAt
      }
    }
  }
`);
