package file

// Hand-written, not generated (ent's generator leaves other files in this
// package alone): predicates for the listing's filters on a file's folder
// and metadata, which need SQL of their own. They sit beside the generated
// predicates, as the layer where SQL is written, so that the rules
// (internal/files) build filters from predicates and know no dialect.

import (
	"context"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"entgo.io/ent"
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
				// Wrapped: a bare OR joined to the query's other terms by
				// AND took other users' files (owner = $1 AND folder = p OR
				// folder LIKE 'p/%').
				b.Wrap(func(b *sql.Builder) {
					b.Join(sql.Or(
						sql.EQ(c, p),
						sql.And(sql.HasPrefix(c, prefix), sql.P(func(b *sql.Builder) {
							// SUBSTR counts characters on both databases.
							b.WriteString("SUBSTR(").Ident(c).WriteString(", 1, ").Arg(utf8.RuneCountInString(prefix)).WriteString(") = ").Arg(prefix)
						})),
					))
				})
			}
		}))
	})
}

// MetadataHas matches files whose metadata holds key with exactly value.
//
// A page of files reads their rows in metadata_pairs (MetadataPair): the
// subquery is tied to the file by owner and created_at as well as id, which
// makes it one probe of the pairs' unique (owner, key, value, created_at,
// file_id) index and lets PostgreSQL turn it into a join read in that
// index's order, so a listing newest first walks the pair's files instead
// of every file of the user testing each (page 2 of 1,000 matches in
// 100,000: 10,055 rows filtered -> 101 pairs read).
//
// A listing of one user's files filtered by one pair and nothing else
// counts its pairs instead (files.Service.countFiltered). Any other count
// on PostgreSQL is containment (metadata @> '{"k":"v"}'),
// which the GIN index on metadata answers as one bitmap of the matching
// rows visited in table order: a count must visit every match's row
// (deleted_at), which the pairs' join does by one index descent each, 3-4
// times the pages. The key must be a valid metadata key ([A-Za-z0-9_.-]),
// which the rules check first. Under NOT either form is true for a file
// without the key.
func MetadataHas(key, value string) predicate.File {
	return predicate.File(func(s *sql.Selector) {
		counting := false
		if qc := ent.QueryFromContext(s.Context()); qc != nil && qc.Op == ent.OpQueryCount {
			counting = true
		}
		s.Where(sql.P(func(b *sql.Builder) {
			if counting && b.Dialect() == dialect.Postgres {
				pair, _ := json.Marshal(map[string]string{key: value}) // strings always marshal
				b.Ident(s.C(FieldMetadata)).WriteString(" @> ").Arg(string(pair)).WriteString("::jsonb")
				return
			}
			mp := func(c string) *sql.Builder { return b.Ident("mp").WriteByte('.').Ident(c) }
			b.WriteString("EXISTS (SELECT 1 FROM ").Ident(MetadataPairsTable).WriteString(" AS ").Ident("mp").WriteString(" WHERE ")
			mp("owner").WriteString(" = ").Ident(s.C(FieldOwner)).WriteString(" AND ")
			mp("key").WriteString(" = ").Arg(key).WriteString(" AND ")
			mp("value").WriteString(" = ").Arg(value).WriteString(" AND ")
			mp("created_at").WriteString(" = ").Ident(s.C(FieldCreatedAt)).WriteString(" AND ")
			mp(MetadataPairsColumn).WriteString(" = ")
			b.Ident(s.C(FieldID))
			if !counting {
				for _, bd := range pageBounds(s.Context()) {
					b.WriteString(" AND ")
					mp("created_at").WriteString(" " + bd.op + " ").Arg(bd.at)
				}
			}
			b.WriteString(")")
		}))
	})
}

// pageBoundsKey carries, into a page's query, the bounds its cursors put
// on created_at.
type pageBoundsKey struct{}

type pageBound struct {
	op string // "<=" or ">="
	at time.Time
}

// WithPageBound returns ctx for a page of files whose every row has
// created_at at or before t (or at or after t, !atOrBefore), which the
// page's cursor says in its own terms (created_at < t OR (= t AND id < ...)).
// MetadataHas repeats it on the pairs it reads: PostgreSQL does not carry an
// inequality across mp.created_at = files.created_at, so without it page 2
// walked page 1's pairs too (101 pairs and files read for 51; page n,
// 50n). The bound holds for every row the cursor lets through, so under
// NOT or OR it changes no answer. Counts (which take no cursor) ignore it.
func WithPageBound(ctx context.Context, t time.Time, atOrBefore bool) context.Context {
	op := ">="
	if atOrBefore {
		op = "<="
	}
	bs := append(slices.Clone(pageBounds(ctx)), pageBound{op: op, at: t})
	return context.WithValue(ctx, pageBoundsKey{}, bs)
}

func pageBounds(ctx context.Context) []pageBound {
	bs, _ := ctx.Value(pageBoundsKey{}).([]pageBound)
	return bs
}
