package database

import (
	"context"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
)

// Lookups reads files by id in statements written once (files.Lookups):
// ent builds a query's SQL anew on every call (each column's quoted,
// table-qualified name, each predicate) and scans through reflection,
// which for a lookup by primary key cost more allocations than the query
// itself. The text is the same on PostgreSQL and SQLite (both take $n);
// with DATABASE_PREPARE, PostgreSQL's connections prepare it as they do
// ent's.
type Lookups struct{ client *ent.Client }

const (
	fileForDownload = `SELECT file_name, original_name, content_type, status FROM files
	WHERE id = $1 AND deleted_at IS NULL`
	ownFileForDownload = fileForDownload + ` AND owner = $2`
)

// FileForDownload implements files.Lookups.
func (l *Lookups) FileForDownload(ctx context.Context, id uuid.UUID, owner string) (*ent.File, error) {
	query, args := fileForDownload, []any{id}
	if owner != "" {
		query, args = ownFileForDownload, []any{id, owner}
	}
	rows, err := l.client.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err // marked
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, mark(rows.Err())
	}
	f := &ent.File{ID: id}
	if err := rows.Scan(&f.FileName, &f.OriginalName, &f.ContentType, (*string)(&f.Status)); err != nil {
		return nil, mark(err)
	}
	return f, mark(rows.Close())
}
