package files

import (
	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
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
	w.AddPredicates(file.Folder(folder))
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
		w.AddPredicates(file.FolderGTE("")) // every file, but still a term
		return nil
	}
	w.AddPredicates(file.FolderWithin(folder))
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
		w.AddPredicates(file.MetadataHas(m.Key, m.Value))
	}
	return nil
}
