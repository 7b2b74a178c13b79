package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// MetadataPair is one key and value of a file's metadata, a row of its own
// so that a listing's metadata filter is a range of a btree in the
// listing's order (owner, key, value, created_at, file_id) instead of a
// walk of the user's files in created_at order testing a JSON column on
// each. The file's row keeps the metadata as given (what the API returns);
// these rows are written by the transactions that save a file and change
// its metadata, and go with the file (ON DELETE CASCADE).
type MetadataPair struct {
	ent.Schema
}

// Fields of the MetadataPair.
func (MetadataPair) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").
			Immutable(),
		field.UUID("file_id", uuid.UUID{}).
			Immutable(),
		// The file's owner and created_at, copied (both are immutable on
		// the file) so the filter's range is one user's, in list order.
		field.String("owner").
			NotEmpty().
			Immutable(),
		field.String("key").
			NotEmpty().
			Immutable(),
		field.String("value").
			Immutable(),
		field.Time("created_at").
			Immutable(),
	}
}

// Edges of the MetadataPair.
func (MetadataPair) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("file", File.Type).
			Ref("metadata_pairs").
			Field("file_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the MetadataPair.
func (MetadataPair) Indexes() []ent.Index {
	return []ent.Index{
		// One value per key of a file; the file's pairs, for an update
		// and for the cascade of its delete.
		index.Fields("file_id", "key").Unique(),
		// A pair's files newest first. Unique (it is: one value per key
		// of a file) so that PostgreSQL can turn the filter's semi-join
		// into a plain join read in this index's order.
		index.Fields("owner", "key", "value", "created_at", "file_id").Unique(),
	}
}
