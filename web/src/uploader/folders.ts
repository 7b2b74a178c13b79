// The operations that organise saved files: folders (implicit: a folder
// exists while a file is in it or below it), rename, move and new metadata
// (updateFile), and deleting up to 100 files at once (deleteFiles: all of
// them or, if any id is not the caller's, none, with NOT_FOUND and the ids
// in FilegraphError.details.ids).
import { graphql } from '../gql';

export const Folders = graphql(`
  query Folders($parent: String, $collection: String) {
    folders(parent: $parent, collection: $collection) {
      path
      name
      fileCount
    }
  }
`);

export const UpdateFile = graphql(`
  mutation UpdateFile($id: ID!, $input: UpdateFileInput!) {
    updateFile(id: $id, input: $input) {
      id
      originalName
      folder
      metadata
      collection
    }
  }
`);

export const DeleteFiles = graphql(`
  mutation DeleteFiles($ids: [ID!]!) {
    deleteFiles(ids: $ids)
  }
`);
