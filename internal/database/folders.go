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
	args := foldersUpsert(&b, ds, nil)
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

// foldersUpsert writes AddFolders' statement for ds to b, its parameters
// numbered after args, and returns args with them.
func foldersUpsert(b *strings.Builder, ds []files.FolderDelta, args []any) []any {
	b.WriteString("INSERT INTO folder_counts (id, owner, collection, parent, name, file_count) VALUES ")
	for i, d := range ds {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(b, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
		parent, name := "", d.Path
		if i := strings.LastIndexByte(d.Path, '/'); i >= 0 {
			parent, name = d.Path[:i], d.Path[i+1:]
		}
		args = append(args, uuid.New(), d.Owner, d.Collection, parent, name, d.Files)
	}
	b.WriteString(` ON CONFLICT (owner, parent, name, collection) DO UPDATE SET file_count = folder_counts.file_count + excluded.file_count`)
	return args
}

// AddCountsThenStamp adds us (sorted by owner, one each) to the usage rows
// and ds to the folder counts as Add and AddFolders do, then returns the
// outbox's stamp (Outbox.Stamp): the last step of a transaction that writes
// events. On PostgreSQL it is one statement, so that a user's usage row,
// locked from here to the commit, waits on two round trips (this and the
// events' insert) rather than four.
func (u *Usages) AddCountsThenStamp(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []files.FolderDelta) (int64, error) {
	if !u.postgres {
		// SQLite's writers take turns: there is no stamp to take, and no
		// round trip to save.
		for _, d := range us {
			if err := u.Add(ctx, tx, d); err != nil {
				return 0, err
			}
		}
		return 0, u.AddFolders(ctx, tx, ds)
	}
	var b strings.Builder
	var args []any
	var from []string
	b.WriteString("WITH ")
	if len(us) > 0 {
		b.WriteString("u AS (INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes) VALUES ")
		for i, d := range us {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes)
		}
		b.WriteString(usageOnConflict + " RETURNING 1)")
		from = append(from, "(SELECT count(*) FROM u) u")
	}
	if len(ds) > 0 {
		if len(us) > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("f AS (")
		args = foldersUpsert(&b, ds, args)
		b.WriteString(" RETURNING 1)")
		from = append(from, "(SELECT count(*) FROM f) f")
	}
	if len(from) == 0 {
		return (&Outbox{postgres: true}).Stamp(ctx, tx)
	}
	// The counts in FROM run their upserts to the end, so the
	// transaction has its id in the select list either way.
	n := len(args)
	fmt.Fprintf(&b, "\nSELECT pg_current_xact_id()::text::bigint, pg_notify($%d, '') FROM %s", n+1, strings.Join(from, ", "))
	args = append(args, eventsChannel)
	return queryXid(ctx, tx, b.String(), args...)
}
