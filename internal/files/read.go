package files

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent/entgql"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/foldercount"
	"github.com/filegraph/filegraph/ent/metadatapair"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// ListArgs are the Relay connection arguments.
type ListArgs struct {
	After, Before *ent.Cursor
	First, Last   *int
	OrderBy       *ent.FileOrder
	Where         *ent.FileWhereInput
}

// newestFirst is the default order of the files connection.
var newestFirst = &ent.FileOrder{Direction: entgql.OrderDirectionDesc, Field: ent.FileOrderFieldCreatedAt}

// List returns one page of files, newest first unless ordered otherwise.
func (s *Service) List(ctx context.Context, a ListArgs) (*ent.FileConnection, error) {
	var ps problems
	ps.checkPage(a.First, a.Last)
	order := a.OrderBy
	if order == nil {
		order = newestFirst
	}
	if msg := checkCursor(a.After, order); msg != "" {
		ps.add("after", "%s", msg)
	}
	if msg := checkCursor(a.Before, order); msg != "" {
		ps.add("before", "%s", msg)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if err := checkWhere(a.Where); err != nil {
		return nil, err
	}
	first := a.First
	if first == nil && a.Last == nil {
		n := MaxPageSize
		first = &n
	}
	user, scope, err := s.visibleToCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !user.Admin && a.Where == nil {
		// All of one user's files: their usage row has the count.
		ctx = context.WithValue(ctx, countKey{}, s.savedCounter(user.ID))
	} else if count := s.countFiltered(user, a.Where); count != nil {
		ctx = context.WithValue(ctx, countKey{}, count)
	}
	if order.Field.String() == "CREATED_AT" { // checkCursor made their values times
		desc := order.Direction == entgql.OrderDirectionDesc
		// The bound only narrows the metadata lookup: without a time, none.
		if a.After != nil {
			if at, ok := a.After.Value.(time.Time); ok {
				ctx = file.WithPageBound(ctx, at, desc)
			}
		}
		if a.Before != nil {
			if at, ok := a.Before.Value.(time.Time); ok {
				ctx = file.WithPageBound(ctx, at, !desc)
			}
		}
	}
	conn, err := s.db.File.Query().Where(scope).Paginate(ctx, a.After, first, a.Before, a.Last,
		ent.WithFileOrder(order),
		ent.WithFileFilter(func(q *ent.FileQuery) (*ent.FileQuery, error) {
			q, err := a.Where.Filter(q)
			if err != nil {
				return nil, &InvalidError{Problems: []Problem{{Field: "where", Message: "has an empty filter"}}}
			}
			return q, nil
		}),
	)
	if err != nil {
		var invalid *InvalidError
		if errors.As(err, &invalid) {
			return nil, err
		}
		return nil, dbError("listing files", err)
	}
	for _, e := range conn.Edges {
		s.noteFiles(ctx, e.Node)
	}
	return conn, nil
}

// countFiltered returns how to count the files of a listing of user's
// filtered by w from other rows than the files', or nil for a count of the
// matching files' rows. One user's files (an admin's listing spans users)
// filtered only by folderHasPrefix are their folder's counts (a folder's
// row counts the files in it and below, less those being deleted), summed
// over collections: 10,000 of 100,000 files were an index-only range of
// 105 buffers, now one row a collection. Filtered by folders and metadata
// pairs otherwise, the count is kept (counts.go) and made when the user's
// files have changed: for one pair from its rows in the pairs' index
// (countPair: 1,000 files of 100,000 were a bitmap visiting their rows,
// 1,003 buffers, now 24), else from the files' rows.
func (s *Service) countFiltered(user auth.User, w *ent.FileWhereInput) counter {
	if user.Admin {
		return nil
	}
	terms, ok := describeFilter(w)
	if !ok {
		return nil
	}
	if len(terms) == 1 && terms[0].folderWithin != nil {
		p := *terms[0].folderWithin
		if p == "" {
			return s.savedCounter(user.ID)
		}
		return func(ctx context.Context, _ func(context.Context) (int, error)) (int, error) {
			return s.folderCount(ctx, user.ID, p)
		}
	}
	count := func(ctx context.Context, rows func(context.Context) (int, error)) (int, error) { return rows(ctx) }
	if len(terms) == 1 && terms[0].metadata != nil {
		m := terms[0].metadata
		count = func(ctx context.Context, _ func(context.Context) (int, error)) (int, error) {
			return s.countPair(ctx, user.ID, m)
		}
	}
	// Several pairs count on the GIN index (file.MetadataHas): driving from
	// the rarest pair's range probing the others was one index descent per
	// file of that pair, 3,000 buffers for 1,000 files against the
	// bitmap's 1,021 (BenchmarkListFilters metadata=2: 1.8x slower).
	return s.keptCounter(user.ID, terms, count)
}

// folderCount is the number of owner's files in folder p or below it, in
// every collection, less those being deleted.
func (s *Service) folderCount(ctx context.Context, owner, p string) (int, error) {
	parent, name := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		parent, name = p[:i], p[i+1:]
	}
	counts, err := s.db.FolderCount.Query().
		Where(foldercount.Owner(owner), foldercount.Parent(parent), foldercount.Name(name)).
		Select(foldercount.FieldFileCount).
		Ints(ctx)
	if err != nil {
		return 0, dbError("reading folder counts", err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n, nil
}

// countPair is the number of owner's files, less those being deleted,
// whose metadata holds m: its rows in metadata_pairs (one per file), read
// from their index alone.
func (s *Service) countPair(ctx context.Context, owner string, m *MetadataMatch) (int, error) {
	n, err := s.db.MetadataPair.Query().Where(
		metadatapair.Owner(owner),
		metadatapair.Key(m.Key),
		metadatapair.Value(m.Value),
		metadatapair.FileNotDeleted(owner),
	).Count(ctx)
	if err != nil {
		return 0, dbError("counting metadata pairs", err)
	}
	return n, nil
}

// Get returns the file with the id, if the caller may see it.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*ent.File, error) {
	_, scope, err := s.visibleToCaller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.db.File.Query().Where(file.ID(id), scope).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, dbError("reading file", err)
	}
	return f, nil
}

// Node resolves a Relay node id; an unknown id is nil, not an error.
func (s *Service) Node(ctx context.Context, id uuid.UUID) (ent.Noder, error) {
	f, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return f, err
}

// Nodes resolves many node ids, nil for each unknown one.
func (s *Service) Nodes(ctx context.Context, ids []uuid.UUID) ([]ent.Noder, error) {
	found, err := s.Files(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ent.Noder, len(ids))
	for i, f := range found {
		if f != nil {
			out[i] = f
		}
	}
	return out, nil
}

// Files returns the files with the ids in one query, in the order asked,
// nil for each the caller may not see: another user's file is as absent as
// an id that never existed, so the answer tells which ids exist to no one
// but their owner and an admin. A supergraph's _entities comes here.
func (s *Service) Files(ctx context.Context, ids []uuid.UUID) ([]*ent.File, error) {
	_, scope, err := s.visibleToCaller(ctx)
	if err != nil {
		return nil, err
	}
	found, err := s.db.File.Query().Where(file.IDIn(ids...), scope).All(ctx)
	if err != nil {
		return nil, dbError("reading files", err)
	}
	s.noteFiles(ctx, found...)
	byID := make(map[uuid.UUID]*ent.File, len(found))
	for _, f := range found {
		byID[f.ID] = f
	}
	out := make([]*ent.File, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// DownloadURL returns a presigned GET that downloads the file under its
// original name and saved type, or, given a variant's name, that variant.
func (s *Service) DownloadURL(ctx context.Context, id uuid.UUID, variant *string) (*storage.Request, error) {
	if variant != nil {
		f, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return s.variantDownloadURL(ctx, f, *variant)
	}
	// Only what FileDownloadURL reads, by a statement written once
	// (Lookups): ent would build its SQL anew and scan all 14 columns.
	owner, err := ownerInScope(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.cfg.Lookups.FileForDownload(ctx, id, owner)
	if err != nil {
		return nil, dbError("reading file", err)
	}
	if f == nil {
		return nil, ErrNotFound
	}
	return s.FileDownloadURL(ctx, f)
}

// Lookups reads one file by its id in a statement written once, for the
// hot paths where ent's building of the SQL (each column's quoted name,
// each predicate) and its scanning of every column cost more than the
// query: internal/database implements it. Scope is visibleToCaller's,
// given as the owner, or "" for any (an admin); a file being deleted is
// never found.
type Lookups interface {
	// FileForDownload returns the file's FileName, OriginalName,
	// ContentType and Status, what FileDownloadURL reads (the rest zero),
	// or nil when there is no such file in scope.
	FileForDownload(ctx context.Context, id uuid.UUID, owner string) (*ent.File, error)
}

// entLookups is Lookups through ent, for a service given none: the same
// scope, built by visibleToCaller's predicates.
type entLookups struct{ db *ent.Client }

func (l entLookups) FileForDownload(ctx context.Context, id uuid.UUID, owner string) (*ent.File, error) {
	scope := file.DeletedAtIsNil()
	if owner != "" {
		scope = file.And(file.Owner(owner), scope)
	}
	f, err := l.db.File.Query().Where(file.ID(id), scope).
		Select(file.FieldFileName, file.FieldOriginalName, file.FieldContentType, file.FieldStatus).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return f, err
}

// FileDownloadURL presigns the download of a file the caller was given
// (by Get, List or Files, which checked that they may see it), without
// reading it again: a page of files gets its links with no more queries.
func (s *Service) FileDownloadURL(ctx context.Context, f *ent.File) (*storage.Request, error) {
	if err := s.servable(f); err != nil {
		return nil, err
	}
	req, err := s.store.PresignGet(ctx, f.FileName, storage.GetOptions{
		FileName:    f.OriginalName,
		ContentType: f.ContentType,
		TTL:         s.cfg.DownloadURLTTL,
	})
	if err != nil {
		return nil, storageError("presigning download", err)
	}
	return &req, nil
}

// checkPage checks Relay's first/last arguments, which every connection
// takes alike.
func (ps *problems) checkPage(first, last *int) {
	for _, n := range []struct {
		name string
		v    *int
	}{{"first", first}, {"last", last}} {
		if n.v != nil && (*n.v < 0 || *n.v > MaxPageSize) {
			ps.add(n.name, "must be from 0 to %d, got %d", MaxPageSize, *n.v)
		}
	}
	if first != nil && last != nil {
		ps.add("last", "cannot be given together with first")
	}
}
