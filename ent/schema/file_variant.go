package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// FileVariant is an image made of a saved image (a thumbnail, a preview,
// as its collection's variants say), stored as an object of its own beside
// the file's, under a key of its own: it counts in its owner's quota and
// goes with its file.
type FileVariant struct {
	ent.Schema
}

// Fields of the FileVariant.
func (FileVariant) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").
			Immutable(),
		field.UUID("file_id", uuid.UUID{}).
			Immutable(),
		// The variant's name in its collection's configuration.
		field.String("name").
			NotEmpty().
			Immutable(),
		// Its object's key: a private file's under files/, a public one's
		// under public/ (readable once the file is READY).
		field.String("file_name").
			NotEmpty().
			Unique().
			Immutable(),
		field.Int("width").
			Positive().
			Immutable(),
		field.Int("height").
			Positive().
			Immutable(),
		field.String("content_type").
			NotEmpty().
			Immutable(),
		field.Int64("size").
			NonNegative().
			Immutable(),
		field.Time("created_at").
			Default(time.Now).
			Immutable(),
	}
}

// Indexes of the FileVariant.
func (FileVariant) Indexes() []ent.Index {
	return []ent.Index{
		// A file's variants, one of each name.
		index.Fields("file_id", "name").Unique(),
	}
}
