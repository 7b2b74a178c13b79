package database

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/ent/tombstone"
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

// AddCountsAndEvents adds us (sorted by owner, one each) to the usage rows
// and ds to the folder counts as Add and AddFolders do, then writes evs,
// each stamped with the transaction's id as Outbox.Stamp stamps, and has
// readers woken at the commit: the last step of a transaction that writes
// events. It returns the events' ids in evs' order. On PostgreSQL it is
// one statement, so that a user's usage row, locked from here to the
// commit, waits on this one round trip and the commit.
func (u *Usages) AddCountsAndEvents(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []files.FolderDelta, evs []files.NewEvent) ([]int64, error) {
	if !u.postgres {
		// SQLite's writers take turns: there is no stamp to take, and no
		// round trip to save.
		for _, d := range us {
			if err := u.Add(ctx, tx, d); err != nil {
				return nil, err
			}
		}
		if err := u.AddFolders(ctx, tx, ds); err != nil {
			return nil, err
		}
		builders := make([]*ent.EventCreate, len(evs))
		for i, e := range evs {
			builders[i] = tx.Event.Create().SetPublicID(e.PublicID).SetType(e.Type).SetFileID(e.FileID).SetOwner(e.Owner).
				SetCollection(e.Collection).SetData(e.Data).SetXid(0).SetCreatedAt(e.CreatedAt)
		}
		saved, err := tx.Event.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(saved))
		for i, ev := range saved {
			ids[i] = ev.ID
		}
		return ids, nil
	}
	if len(evs) == 0 {
		return nil, errors.New("database: AddCountsAndEvents without events")
	}
	query, args := countsAndEvents(nil, us, ds, evs, "SELECT e.id, e.public_id FROM e, (SELECT pg_notify(%s, '')) n")
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mark(err)
	}
	defer rows.Close()
	byPublic := make(map[uuid.UUID]int64, len(evs))
	for rows.Next() {
		var id int64
		var public uuid.UUID
		if err := rows.Scan(&id, &public); err != nil {
			return nil, mark(err)
		}
		byPublic[public] = id
	}
	if err := rows.Err(); err != nil {
		return nil, mark(err)
	}
	// RETURNING's order is not promised to be the VALUES'.
	ids := make([]int64, len(evs))
	for i, e := range evs {
		id, ok := byPublic[e.PublicID]
		if !ok {
			return nil, fmt.Errorf("database: event %s was not returned", e.PublicID)
		}
		ids[i] = id
	}
	return ids, nil
}

// countsAndEvents writes AddCountsAndEvents' statement for PostgreSQL:
// the insert of the tombstones ts (a delete's mark), the upserts of us and
// ds and the insert of evs (RETURNING id, public_id) as e, then the query
// final, whose %s is the parameter of the events' channel.
func countsAndEvents(ts []files.Tombstone, us []ent.Usage, ds []files.FolderDelta, evs []files.NewEvent, final string) (string, []any) {
	var b strings.Builder
	var args []any
	b.WriteString("WITH ")
	if len(ts) > 0 {
		b.WriteString("t AS (INSERT INTO tombstones (id, file_name, delete_after) VALUES ")
		for i, t := range ts {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d)", n+1, n+2, n+3)
			args = append(args, tombstone.DefaultID(), t.Key, t.Until)
		}
		b.WriteString("),\n")
	}
	if len(us) > 0 {
		b.WriteString("u AS (INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes, file_writes) VALUES ")
		for i, d := range us {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes, d.FileWrites)
		}
		b.WriteString(usageOnConflict + "),\n")
	}
	if len(ds) > 0 {
		b.WriteString("f AS (")
		args = foldersUpsert(&b, ds, args)
		b.WriteString("),\n")
	}
	// A data-modifying WITH runs to its end whether or not the query
	// reads it; all of them see the same snapshot and none sees another's
	// rows, which none needs.
	b.WriteString("e AS (INSERT INTO events (public_id, type, file_id, owner, collection, data, created_at, xid) VALUES ")
	for i, e := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, pg_current_xact_id()::text::bigint)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
		args = append(args, e.PublicID, e.Type, e.FileID, e.Owner, e.Collection, e.Data, e.CreatedAt)
	}
	b.WriteString(" RETURNING id, public_id)\n")
	fmt.Fprintf(&b, final, fmt.Sprintf("$%d", len(args)+1))
	args = append(args, eventsChannel)
	return b.String(), args
}

// CommitCountsAndEvents writes what AddCountsAndEvents writes and commits
// tx in the same round trip; tx then holds a new, empty transaction, which
// the caller commits or rolls back to no effect. On PostgreSQL the
// statement, COMMIT and BEGIN go as one simple query (lib/pq sends a query
// without parameters so, and PostgreSQL runs its statements in turn,
// skipping the rest after an error), so the values are written into the
// statement as literals. The usage rows it locks are then released by the
// commit that ends the same query: no round trip to the client and back
// while they are held, as a plain Go save's single autocommitted statement
// holds them. A failed statement leaves tx in its failed transaction for
// the caller's rollback; a failed COMMIT ends it (lib/pq then drops the
// connection at the rollback). On SQLite it is AddCountsAndEvents: the
// caller's commit follows.
func (u *Usages) CommitCountsAndEvents(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []files.FolderDelta, evs []files.NewEvent) error {
	if !u.postgres {
		_, err := u.AddCountsAndEvents(ctx, tx, us, ds, evs)
		return err
	}
	if len(evs) == 0 {
		return errors.New("database: CommitCountsAndEvents without events")
	}
	query, err := withLiterals(countsAndEvents(nil, us, ds, evs, "SELECT pg_notify(%s, '')"))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, query+";\nCOMMIT;\nBEGIN")
	return mark(err)
}

// withLiterals is countsAndEvents' statement with its parameters written
// into it as literals, for a simple query.
func withLiterals(query string, args []any) (string, error) {
	var failed error
	query = placeholder.ReplaceAllStringFunc(query, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		lit, err := literal(args[n-1])
		if err != nil && failed == nil {
			failed = err
		}
		return lit
	})
	return query, failed
}

// placeholder is a parameter of countsAndEvents' statement, whose text has
// no other $.
var placeholder = regexp.MustCompile(`\$[0-9]+`)

// literal writes v, a parameter of countsAndEvents' statement, as an SQL
// literal of the type its column has.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return pq.QuoteLiteral(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case uuid.UUID:
		return "'" + v.String() + "'::uuid", nil
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'::timestamptz", nil
	case *string:
		if v == nil {
			return "NULL", nil
		}
		return literal(*v)
	case *time.Time:
		if v == nil {
			return "NULL", nil
		}
		return literal(*v)
	case schema.Metadata:
		// Its JSON, as its Value gives it to the driver; an untyped
		// literal takes the column's type (jsonb).
		j, err := v.Value()
		if err != nil {
			return "", err
		}
		return literal(j)
	}
	return "", fmt.Errorf("database: no literal for a %T", v)
}
