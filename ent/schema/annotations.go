//go:build codegen

package schema

// Annotations are read only by ent's code generator and entgql's (the
// GraphQL schema, table names), which load this package with -tags codegen
// (ent/entc.go). The server links this package for its defaults and
// validators; built without the tag it gets no annotations
// (annotations_none.go), and so does not link entgql, whose annotations
// share a package with its generator.

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
)

// Annotations of the File: listed as a Relay connection, Query.files.
func (File) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("files"),
	}
}

// Annotations of the Tombstone: internal bookkeeping, not part of the API.
func (Tombstone) Annotations() []schema.Annotation {
	return notInAPI()
}

// Annotations of the FolderCount: internal bookkeeping, not part of the API.
func (FolderCount) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("folder_counts"),
		entgql.Skip(entgql.SkipAll),
	}
}

// Annotations of the Upload: internal bookkeeping, not part of the API.
func (Upload) Annotations() []schema.Annotation {
	return notInAPI()
}

// Annotations of the MetadataPair: the listing's index of metadata, not
// part of the API.
func (MetadataPair) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("metadata_pairs"),
		entgql.Skip(entgql.SkipAll),
	}
}

// Annotations of the Usage: internal bookkeeping, not part of the API.
func (Usage) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("usages"),
		entgql.Skip(entgql.SkipAll),
	}
}

// orderField lets clients order a connection by the field, as name.
func orderField(name string) []schema.Annotation {
	return []schema.Annotation{entgql.OrderField(name)}
}

// graphQLType gives the field this GraphQL type.
func graphQLType(name string) []schema.Annotation {
	return []schema.Annotation{entgql.Type(name)}
}

// notInWhere leaves the field's generated predicates out of FileWhereInput.
func notInWhere() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// ownedRows marks an edge to rows that are part of their owner's (deleted
// with it by the database) and not part of the API.
func ownedRows() []schema.Annotation {
	return []schema.Annotation{entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)}
}

// notInAPI leaves a type or field out of the GraphQL schema.
func notInAPI() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Annotations of the Event: the outbox; clients see events through
// Subscription.fileEvents, whose types graph/ declares.
func (Event) Annotations() []schema.Annotation {
	return notInAPI()
}

// Annotations of the Delivery: internal bookkeeping, not part of the API.
func (Delivery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("deliveries"),
		entgql.Skip(entgql.SkipAll),
	}
}

// Annotations of the FileVariant: File.variants is resolved by hand (its
// url is signed or public, like a download), not generated.
func (FileVariant) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("file_variants"),
		entgql.Skip(entgql.SkipAll),
	}
}

// Annotations of the Job: internal bookkeeping, not part of the API.
func (Job) Annotations() []schema.Annotation {
	return notInAPI()
}
