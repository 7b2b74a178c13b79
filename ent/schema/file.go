package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// File is an object that a client uploaded and saved: the row exists only
// once the object has been seen in storage with the announced size.
type File struct {
	ent.Schema
}

// Fields of the File.
func (File) Fields() []ent.Field {
	return []ent.Field{
		// UUID v7 ids sort by creation time, which keeps the primary key
		// index append-only and the cursor tie-break meaningful.
		field.UUID("id", uuid.UUID{}).
			Default(newID).
			Immutable(),
		field.String("bucket").
			NotEmpty().
			Immutable(),
		// Changed once at most: a public file the virus scan held under
		// the private prefix gets its public key when found clean.
		field.String("file_name").
			Comment("The object key: unique, made by the server.").
			NotEmpty().
			Unique().
			Annotations(orderField("FILE_NAME")...),
		// updateFile renames: downloads then carry the new name.
		field.String("original_name").
			NotEmpty().
			Annotations(orderField("ORIGINAL_NAME")...),
		field.Int64("size").
			NonNegative().
			Immutable().
			Annotations(orderField("SIZE")...).
			Annotations(graphQLType("Int64")...),
		field.String("content_type").
			NotEmpty().
			Immutable(),
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(orderField("CREATED_AT")...),
		// The database default only fills rows saved before files had
		// owners (they go to development mode's user); new rows always set it.
		field.String("owner").
			Comment("The id of the user who saved the file.").
			NotEmpty().
			Immutable().
			Annotations(entsql.Default("local")),
		// The upload profile the file was saved under (COLLECTIONS_FILE);
		// rows from before collections are in the default one.
		field.String("collection").
			Comment("The collection whose rules the file was uploaded under.").
			NotEmpty().
			Default("default").
			Immutable(),
		// Folders are implicit: a path on the row, never in the key, so a
		// move changes the row alone. The listing filters on it by
		// hand-written terms (folder, folderHasPrefix), not entgql's.
		field.String("folder").
			Comment("The folder the file is in, a/b/c; \"\" is the root.").
			Default("").
			Annotations(notInWhere()...),
		field.Other("metadata", Metadata{}).
			SchemaType(metadataColumn).
			Comment("The app's own string pairs, as given; {} when none.").
			Default(Metadata{}).
			Annotations(entsql.Default("{}")).
			Annotations(graphQLType("JSON")...).
			Annotations(notInWhere()...),
		// Where the file stands with the scan gate: READY unless scanning
		// (SCAN_CLAMD_ADDR) holds it. Only a READY file, or an UNSCANNED one
		// where SCAN_ALLOW_UNSCANNED says so, is served.
		field.Enum("status").
			Comment("READY to serve; SCANNING until the virus scanner answers; INFECTED (its object is deleted); UNSCANNED (too large to scan).").
			Values("READY", "SCANNING", "INFECTED", "UNSCANNED").
			Default("READY").
			Annotations(graphQLType("FileStatus")...),
		field.String("scan_result").
			Comment("The signature the scanner found in an INFECTED file.").
			Optional().
			Nillable().
			Annotations(notInWhere()...),
		// Set when a delete starts; the row is gone for everyone from then
		// on, and the sweeper finishes a delete its process did not.
		field.Time("deleted_at").
			Optional().
			Nillable().
			Annotations(notInAPI()...),
	}
}

// Edges of the File.
func (File) Edges() []ent.Edge {
	return []ent.Edge{
		// Its metadata as rows the listing's filter reads (MetadataPair),
		// deleted with the file by the database wherever the row goes.
		edge.To("metadata_pairs", MetadataPair.Type).
			Annotations(ownedRows()...),
	}
}

// Indexes of the File.
func (File) Indexes() []ent.Index {
	return []ent.Index{
		// The default listing is newest first.
		index.Fields("created_at"),
		// A user's own listing, newest first: the id, which breaks ties in
		// the order, lets a page's cursor be one range of the index.
		index.Fields("owner", "created_at", "id"),
		index.Fields("deleted_at"),
		// A folder's files, newest first, as one range of the index. The
		// pattern operator class lets folderHasPrefix be a range of it too
		// whatever the database's collation (PostgreSQL; SQLite has no
		// operator classes and scans the user's rows). Only files not being
		// deleted, as every listing asks: a filtered totalCount then counts
		// from the index alone, with no visit to each matching row.
		index.Fields("owner", "folder", "created_at", "id").
			Annotations(entsql.OpClassColumn("folder", "varchar_pattern_ops"), entsql.IndexWhere("deleted_at IS NULL")),
		// A metadata filter's count is containment (@>) on PostgreSQL,
		// which a GIN index of jsonb_path_ops answers in one bitmap of the
		// matching rows; its pages read metadata_pairs (MetadataPair) in
		// list order. SQLite reads metadata_pairs for both.
		index.Fields("metadata").
			Annotations(entsql.IndexTypes(map[string]string{dialect.Postgres: "GIN"}), entsql.OpClass("jsonb_path_ops")),
	}
}
