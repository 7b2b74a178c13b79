package database

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/files"
)

// AddFolders adds each delta's files to its folder's row (folder_counts,
// ent/schema/folder_count.go), creating rows at need, in the caller's
// transaction: one upsert that PostgreSQL and SQLite both run. The deltas
// come sorted and without repeats (files.Service sorts them), so that
// concurrent transactions lock rows in one order.
func (*Usages) AddFolders(ctx context.Context, tx *ent.Tx, ds []files.FolderDelta) error {
	if len(ds) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO folder_counts (id, owner, collection, parent, name, file_count) VALUES ")
	args := make([]any, 0, 6*len(ds))
	for i, d := range ds {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
		parent, name := "", d.Path
		if i := strings.LastIndexByte(d.Path, '/'); i >= 0 {
			parent, name = d.Path[:i], d.Path[i+1:]
		}
		args = append(args, uuid.New(), d.Owner, d.Collection, parent, name, d.Files)
	}
	b.WriteString(` ON CONFLICT (owner, parent, name, collection) DO UPDATE SET file_count = folder_counts.file_count + excluded.file_count`)
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}
