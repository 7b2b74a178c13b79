package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Upload is a presigned upload the server issued and nobody has saved yet.
// saveFiles checks a reported key against it and turns it into a File in the
// same transaction that deletes it; what expires unsaved can be swept.
type Upload struct {
	ent.Schema
}

// Fields of the Upload.
func (Upload) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(newID).
			Immutable(),
		field.String("file_name").
			NotEmpty().
			Unique().
			Immutable(),
		field.String("original_name").
			NotEmpty().
			Immutable(),
		field.Int64("size").
			Positive().
			Immutable(),
		field.String("content_type").
			NotEmpty().
			Immutable(),
		field.String("checksum_sha256").
			Comment("Base64 SHA-256 the client announced, empty when none.").
			Default("").
			Immutable(),
		field.Time("expires_at").
			Immutable(),
		field.Time("created_at").
			Default(time.Now).
			Immutable(),
		field.String("owner").
			Comment("The id of the user the upload was issued to.").
			NotEmpty().
			Immutable().
			Annotations(entsql.Default("local")),
	}
}

// Indexes of the Upload.
func (Upload) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
	}
}

// Annotations of the Upload: internal bookkeeping, not part of the API.
func (Upload) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipAll),
	}
}
