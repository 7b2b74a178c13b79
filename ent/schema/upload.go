package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
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
		// What the saved file will carry (see File).
		field.String("folder").
			Default("").
			Immutable(),
		field.Other("metadata", Metadata{}).
			SchemaType(metadataColumn).
			Default(Metadata{}).
			Annotations(entsql.Default("{}")).
			Immutable(),
		// For a single PUT, when its URL expires (it may be saved for
		// UPLOAD_SAVE_WINDOW more); for an upload in parts, when it must be
		// saved by. Not immutable: abortUpload moves it into the past, so
		// that a save cannot win and the sweeper finishes an interrupted
		// abort.
		field.Time("expires_at"),
		field.Time("created_at").
			Default(time.Now).
			Immutable(),
		field.String("owner").
			Comment("The id of the user the upload was issued to.").
			NotEmpty().
			Immutable().
			Annotations(entsql.Default("local")),
		field.String("collection").
			Comment("The collection whose rules the upload was issued under.").
			NotEmpty().
			Default("default").
			Immutable(),
		// An upload in parts (createMultipartUploads) has the store's
		// upload id and its layout; a single PUT has none of these.
		field.String("multipart_id").
			Comment("The store's id of the upload in parts; empty for a single PUT.").
			Default("").
			Immutable(),
		field.Int64("part_size").
			Comment("Length of every part but the last; 0 for a single PUT.").
			Default(0).
			NonNegative().
			Immutable(),
		field.Int("part_count").
			Default(0).
			NonNegative().
			Immutable(),
		field.Bool("part_checksums").
			Comment("Whether every part is signed for its SHA-256.").
			Default(false).
			Immutable(),
	}
}

// Indexes of the Upload.
func (Upload) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
	}
}
