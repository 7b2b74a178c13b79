package metadatapair

// Hand-written, not generated (as ent/file/attributes.go): predicates that
// count a metadata filter's files from the pairs alone.

import (
	"entgo.io/ent/dialect/sql"

	"github.com/filegraph/filegraph/ent/predicate"
)

// FileNotDeleted matches pairs of owner's files that are not being deleted
// (deleted_at set, as a listing leaves out). The marked files are few and
// brief (between a delete's mark and its rows' removal, or until the
// sweeper finishes a crashed one): the subquery reads them by the
// deleted_at index once, and PostgreSQL tests each pair against a hash of
// them, where a join to files would visit every pair's file.
func FileNotDeleted(owner string) predicate.MetadataPair {
	return predicate.MetadataPair(func(s *sql.Selector) {
		f := sql.Table(FileInverseTable).As("marked")
		s.Where(sql.NotIn(s.C(FieldFileID), sql.Select(f.C("id")).From(f).Where(sql.And(
			sql.NotNull(f.C("deleted_at")),
			sql.EQ(f.C("owner"), owner),
		))))
	})
}
