package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Tombstone is a key whose object was deleted (with its file, or swept with
// its upload) while a PUT to it could still land: a presigned S3 URL cannot
// be revoked, so the sweeper deletes the key once more after delete_after,
// when no URL for it can write any longer.
type Tombstone struct {
	ent.Schema
}

// Fields of the Tombstone.
func (Tombstone) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(newID).
			Immutable(),
		field.String("file_name").
			NotEmpty().
			Immutable(),
		field.Time("delete_after").
			Immutable(),
	}
}

// Indexes of the Tombstone.
func (Tombstone) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("delete_after"),
	}
}
