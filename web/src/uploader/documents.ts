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
        }
      }
    }
  }
`);

export const FileDownloadUrl = graphql(`
  query FileDownloadUrl($id: ID!) {
    fileDownloadUrl(id: $id) {
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
