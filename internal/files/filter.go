package files

import (
	"context"
	"reflect"

	"entgo.io/ent/dialect/sql"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/predicate"
)

// The listing's filters on a file's folder and metadata are written by
// hand (graph/schema.graphqls extends FileWhereInput with them); each adds
// its predicate to the filter object it was given in, so they nest in
// and/or/not like the generated ones, and count towards MaxWhereTerms as
// one term per predicate (checkWhere).

// FilterFolder keeps the files directly in folder p ("" is the root).
func FilterFolder(w *ent.FileWhereInput, p *string) error {
	if p == nil {
		return nil
	}
	folder, msg := normalizeFolder(*p)
	if msg != "" {
		return &InvalidError{Problems: []Problem{{Field: "where.folder", Message: msg}}}
	}
	w.AddPredicates(described(file.Folder(folder), filterTerm{folder: &folder}))
	return nil
}

// FilterFolderHasPrefix keeps the files in folder p and every folder below
// it: "a" takes a and a/b, not ab. "" takes every folder.
func FilterFolderHasPrefix(w *ent.FileWhereInput, p *string) error {
	if p == nil {
		return nil
	}
	folder, msg := normalizeFolder(*p)
	if msg != "" {
		return &InvalidError{Problems: []Problem{{Field: "where.folderHasPrefix", Message: msg}}}
	}
	if folder == "" {
		// Every file, but still a term.
		w.AddPredicates(described(file.FolderGTE(""), filterTerm{folderWithin: &folder}))
		return nil
	}
	w.AddPredicates(described(file.FolderWithin(folder), filterTerm{folderWithin: &folder}))
	return nil
}

// FilterMetadata keeps the files whose metadata holds every pair exactly.
func FilterMetadata(w *ent.FileWhereInput, ms []*MetadataMatch) error {
	var ps problems
	if len(ms) > MaxWhereList {
		ps.add("where.metadata", "lists %d items, at most %d are allowed", len(ms), MaxWhereList)
		return ps.err()
	}
	ps.checkMetadataMatches("where.metadata", ms)
	if err := ps.err(); err != nil {
		return err
	}
	for _, m := range ms {
		w.AddPredicates(described(file.MetadataHas(m.Key, m.Value), filterTerm{metadata: m}))
	}
	return nil
}

// filterTerm is what one hand-written predicate filters on, so that a
// listing filtered by nothing else can count its files from the folder
// counts, the metadata pairs or the kept counts (countFiltered) instead
// of the files' rows.
type filterTerm struct {
	folder       *string
	folderWithin *string
	metadata     *MetadataMatch
}

// termsKey carries, into the context of a selector that describeFilter
// builds, where the predicates put their terms.
type termsKey struct{}

// described is p, which also tells describeFilter that it is t.
func described(p predicate.File, t filterTerm) predicate.File {
	return func(s *sql.Selector) {
		if ts, ok := s.Context().Value(termsKey{}).(*[]filterTerm); ok {
			*ts = append(*ts, t)
		}
		p(s)
	}
}

// describeFilter returns the terms of w when w is only hand-written
// predicates that each said what they are (no generated field, no
// and/or/not), else false.
func describeFilter(w *ent.FileWhereInput) ([]filterTerm, bool) {
	if w == nil || len(w.Predicates) == 0 {
		return nil, false
	}
	rest := *w
	rest.Predicates = nil
	if !reflect.ValueOf(rest).IsZero() {
		return nil, false
	}
	var terms []filterTerm
	for _, p := range w.Predicates {
		n := len(terms)
		// Built on a selector no query runs: only the terms are kept.
		p(sql.Select().From(sql.Table(file.Table)).WithContext(context.WithValue(context.Background(), termsKey{}, &terms)))
		if len(terms) != n+1 {
			return nil, false
		}
	}
	return terms, true
}
