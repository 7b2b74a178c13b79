package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// FolderCount is how many of one user's files of one collection are in a
// folder or below it. Folders are implicit (a path on each file); these
// rows, kept by the same transactions that save, move and delete files,
// let the folders query list a folder's children by an index range whose
// length is the number of children, not of files.
type FolderCount struct {
	ent.Schema
}

// Fields of the FolderCount.
func (FolderCount) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(newID).
			Immutable(),
		field.String("owner").
			NotEmpty().
			Immutable(),
		field.String("collection").
			NotEmpty().
			Immutable(),
		field.String("parent").
			Comment(`The folder above, "" for a top folder.`).
			Immutable(),
		field.String("name").
			Comment("The last segment of the folder's path.").
			NotEmpty().
			Immutable(),
		field.Int64("file_count").
			Comment("Files in the folder and below it, less those being deleted; rows at 0 are left for reuse.").
			Default(0),
	}
}

// Indexes of the FolderCount.
func (FolderCount) Indexes() []ent.Index {
	return []ent.Index{
		// One row per folder, and a folder's children in name order.
		index.Fields("owner", "parent", "name", "collection").Unique(),
	}
}
