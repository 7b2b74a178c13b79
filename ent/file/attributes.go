package file

// Hand-written, not generated (ent's generator leaves other files in this
// package alone): predicates for the listing's filters on a file's folder
// and metadata, which need SQL of their own. They sit beside the generated
// predicates, as the layer where SQL is written, so that the rules
// (internal/files) build filters from predicates and know no dialect.

import (
	"encoding/json"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/filegraph/filegraph/ent/predicate"
)

// FolderWithin matches files in folder p or any folder below it (p/...),
// byte for byte: LIKE alone would also take P/ on SQLite, which compares
// ASCII letters without case, so the prefix is compared exactly too.
//
// On PostgreSQL it is one range of the folder index in byte order
// (varchar_pattern_ops): [p, p+"0") holds p, everything under p/ ('0'
// follows '/') and names that only begin with p (p-x, p.x), which the last
// term drops from the index entries themselves. Written as p OR LIKE 'p/%'
// it was two ranges ORed into a bitmap, which visits every matching row in
// the table, where one range counts from the index alone.
func FolderWithin(p string) predicate.File {
	prefix := p + "/"
	return predicate.File(func(s *sql.Selector) {
		c := s.C(FieldFolder)
		s.Where(sql.P(func(b *sql.Builder) {
			switch b.Dialect() {
			case dialect.Postgres:
				b.WriteString("(").Ident(c).WriteString(" ~>=~ ").Arg(p).
					WriteString(" AND ").Ident(c).WriteString(" ~<~ ").Arg(p + "0").
					WriteString(" AND (").Ident(c).WriteString(" = ").Arg(p).
					WriteString(" OR ").Ident(c).WriteString(" ~>=~ ").Arg(prefix).WriteString("))")
			default:
				b.Join(sql.Or(
					sql.EQ(c, p),
					sql.And(sql.HasPrefix(c, prefix), sql.P(func(b *sql.Builder) {
						// SUBSTR counts characters on both databases.
						b.WriteString("SUBSTR(").Ident(c).WriteString(", 1, ").Arg(utf8.RuneCountInString(prefix)).WriteString(") = ").Arg(prefix)
					})),
				))
			}
		}))
	})
}

// MetadataHas matches files whose metadata holds key with exactly value.
// On PostgreSQL it is containment (metadata @> '{"key":"value"}'), which
// the GIN index on metadata answers; elsewhere JSON_EXTRACT. The key must
// be a valid metadata key ([A-Za-z0-9_.-]), which the rules check first.
func MetadataHas(key, value string) predicate.File {
	return predicate.File(func(s *sql.Selector) {
		c := s.C(FieldMetadata)
		s.Where(sql.P(func(b *sql.Builder) {
			switch b.Dialect() {
			case dialect.Postgres:
				pair, _ := json.Marshal(map[string]string{key: value}) // strings always marshal
				b.Ident(c).WriteString(" @> ").Arg(string(pair)).WriteString("::jsonb")
			default:
				// A quoted label: keys may hold dots.
				b.WriteString("JSON_EXTRACT(").Ident(c).Comma().Arg(`$."` + key + `"`).WriteString(") IS ").Arg(value) // IS: false, not NULL, for a file without the key (under NOT)
			}
		}))
	})
}
