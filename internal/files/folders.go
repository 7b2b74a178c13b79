package files

import (
	"cmp"
	"context"
	"slices"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/foldercount"
	"github.com/filegraph/filegraph/internal/auth"
)

// Folders are implicit: a folder exists while a file is in it or below
// it. Each user's folder rows (ent/schema/folder_count.go) count those
// files, kept by the transactions that save, move and delete files, as
// the usage row is; the folders query reads a folder's children from them
// at a cost that grows with the children, not with the files.

// MaxFoldersPerCall bounds the folders query.
const MaxFoldersPerCall = 1000

// Folder is one child folder of a listing.
type Folder struct {
	Path      string
	Name      string
	FileCount int
}

// FolderDelta adds Files (negative: removes) to the count of one user's
// folder of one collection.
type FolderDelta struct {
	Owner, Collection, Path string
	Files                   int64
}

// folderDeltas returns what sign times each file makes in the counts of
// its folder and every folder above it, summed, sorted and without zeros.
func folderDeltas(sign int64, fs ...*ent.File) []FolderDelta {
	sums := map[FolderDelta]int64{}
	for _, f := range fs {
		for _, p := range folderAncestors(f.Folder) {
			sums[FolderDelta{Owner: f.Owner, Collection: f.Collection, Path: p}] += sign
		}
	}
	out := make([]FolderDelta, 0, len(sums))
	for k, n := range sums {
		if n != 0 {
			k.Files = n
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b FolderDelta) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Collection, b.Collection))
	})
	return out
}

// addFolders applies ds in tx.
func (s *Service) addFolders(ctx context.Context, tx *ent.Tx, ds []FolderDelta) error {
	if err := s.usages.AddFolders(ctx, tx, ds); err != nil {
		return dbError("updating folder counts", err)
	}
	return nil
}

// moveInFolders counts f, which was in f.Folder, in folder instead.
func (s *Service) moveInFolders(ctx context.Context, tx *ent.Tx, f *ent.File, folder string) error {
	moved := *f
	moved.Folder = folder
	ds := append(folderDeltas(-1, f), folderDeltas(1, &moved)...)
	// One row per folder in the statement: sum what both sides share.
	sums := map[FolderDelta]int64{}
	for _, d := range ds {
		n := d.Files
		d.Files = 0
		sums[d] += n
	}
	ds = ds[:0]
	for d, n := range sums {
		if n != 0 {
			d.Files = n
			ds = append(ds, d)
		}
	}
	slices.SortFunc(ds, func(a, b FolderDelta) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Collection, b.Collection))
	})
	return s.addFolders(ctx, tx, ds)
}

// Folders lists the immediate child folders of parent ("" is the root)
// that hold the caller's files (of collection, when given), by name, with
// how many files each holds, itself and below.
func (s *Service) Folders(ctx context.Context, parentPath, collection *string) ([]*Folder, error) {
	parent, msg := "", ""
	if parentPath != nil { // null is the root, as the default ""
		parent, msg = normalizeFolder(*parentPath)
	}
	if msg != "" {
		return nil, &InvalidError{Problems: []Problem{{Field: "parent", Message: msg}}}
	}
	if collection != nil {
		if msg := checkText(*collection); msg != "" {
			return nil, &InvalidError{Problems: []Problem{{Field: "collection", Message: msg}}}
		}
	}
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	// A folder has a row per collection: rows come by name, and a name's
	// rows are summed, until the call has its names or the rows end.
	const page = MaxFoldersPerCall
	var out []*Folder
	var last *ent.FolderCount
	for {
		q := s.db.FolderCount.Query().Where(
			foldercount.Owner(user.ID),
			foldercount.Parent(parent),
			foldercount.FileCountGT(0),
		)
		if collection != nil {
			q.Where(foldercount.Collection(*collection))
		}
		if last != nil {
			q.Where(foldercount.Or(foldercount.NameGT(last.Name), foldercount.And(foldercount.Name(last.Name), foldercount.CollectionGT(last.Collection))))
		}
		rows, err := q.Order(ent.Asc(foldercount.FieldName), ent.Asc(foldercount.FieldCollection)).Limit(page).All(ctx)
		if err != nil {
			return nil, dbError("listing folders", err)
		}
		for _, r := range rows {
			if n := len(out); n > 0 && out[n-1].Name == r.Name {
				out[n-1].FileCount += int(r.FileCount)
				continue
			}
			if len(out) == MaxFoldersPerCall {
				return out, nil
			}
			path := r.Name
			if parent != "" {
				path = parent + "/" + r.Name
			}
			out = append(out, &Folder{Path: path, Name: r.Name, FileCount: int(r.FileCount)})
		}
		if len(rows) < page {
			break
		}
		last = rows[len(rows)-1]
	}
	if out == nil {
		out = []*Folder{}
	}
	return out, nil
}
