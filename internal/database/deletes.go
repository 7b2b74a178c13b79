package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/internal/files"
)

// Deletes is files.Deletes on PostgreSQL: the mark of a batch of
// deleteFile calls in two round trips, their rows' removal in one.
// Through ent one file's mark took eight (the lookup, BEGIN, the mark, the
// jobs' delete, the tombstones, the variants' read, the counts and events
// with the commit, and the empty transaction's COMMIT). Both are simple queries on a connection of
// their own holding the transaction itself: lib/pq sends a query without
// parameters as one message however many statements it holds, so BEGIN
// goes with the mark and COMMIT with the last write, and PostgreSQL gives
// each statement of it a snapshot of its own in READ COMMITTED. The
// values are written in as literals (pq.QuoteLiteral, uuid and
// timestamptz casts), as CommitCountsAndEvents writes them. nil on
// SQLite.
type Deletes struct{ db *sql.DB }

// fileColumns are the columns of ent.File, in scanFile's order.
const fileColumns = "id, bucket, file_name, original_name, size, content_type, created_at, owner, collection, folder, metadata, status, scan_result, deleted_at"

// variantColumns are the columns of ent.FileVariant, in MarkMany's order.
const variantColumns = "id, file_id, name, file_name, width, height, content_type, size, created_at"

// MarkMany implements files.Deletes. The files' rows are marked and
// their jobs deleted by one statement (the jobs' delete reads the marked
// rows from the update, so a file out of scope has none deleted); their
// variants are read by the next statement, under a snapshot taken after
// the jobs' delete, as the mark through ent read them.
func (d *Deletes) MarkMany(ctx context.Context, ms []files.Mark, at time.Time) ([]*ent.File, map[uuid.UUID][]*ent.FileVariant, files.MarkTx, error) {
	if len(ms) == 0 {
		return nil, nil, nil, nil
	}
	atLit, _ := literal(at)
	ids := make([]uuid.UUID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	var b strings.Builder
	b.Grow(512 + 80*len(ms))
	b.WriteString("BEGIN;\nWITH m AS (UPDATE files SET deleted_at = ")
	b.WriteString(atLit)
	b.WriteString(" WHERE deleted_at IS NULL AND (")
	for i, m := range ms {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("id = ")
		lit, _ := literal(m.ID)
		b.WriteString(lit)
		if m.Owner != "" {
			b.WriteString(" AND owner = ")
			b.WriteString(pq.QuoteLiteral(m.Owner))
		}
	}
	b.WriteString(") RETURNING " + fileColumns + "),\nj AS (DELETE FROM jobs WHERE file_id IN (SELECT id FROM m))\nSELECT " + fileColumns + " FROM m;\nSELECT " + variantColumns + " FROM file_variants v WHERE file_id IN (")
	writeIDs(&b, ids)
	b.WriteString(") AND EXISTS (SELECT FROM files WHERE id = v.file_id AND deleted_at = ")
	b.WriteString(atLit)
	b.WriteString(") ORDER BY id")

	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, nil, nil, mark(err)
	}
	fs, vs, err := markMany(ctx, conn, b.String())
	if err != nil || len(fs) == 0 {
		endTx(ctx, conn)
		return nil, nil, nil, err
	}
	return fs, vs, &markTx{conn: conn}, nil
}

// markMany sends MarkMany's query on conn and reads its two results.
func markMany(ctx context.Context, conn *sql.Conn, query string) ([]*ent.File, map[uuid.UUID][]*ent.FileVariant, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, nil, mark(err)
	}
	defer rows.Close()
	var fs []*ent.File
	for rows.Next() {
		f := &ent.File{}
		var scanResult sql.NullString
		var status string
		if err := rows.Scan(&f.ID, &f.Bucket, &f.FileName, &f.OriginalName, &f.Size, &f.ContentType, &f.CreatedAt,
			&f.Owner, &f.Collection, &f.Folder, &f.Metadata, &status, &scanResult, &f.DeletedAt); err != nil {
			return nil, nil, mark(err)
		}
		f.Status = file.Status(status)
		if scanResult.Valid {
			f.ScanResult = &scanResult.String
		}
		fs = append(fs, f)
	}
	var vs map[uuid.UUID][]*ent.FileVariant
	if rows.NextResultSet() {
		for rows.Next() {
			v := &ent.FileVariant{}
			if err := rows.Scan(&v.ID, &v.FileID, &v.Name, &v.FileName, &v.Width, &v.Height, &v.ContentType, &v.Size, &v.CreatedAt); err != nil {
				return nil, nil, mark(err)
			}
			if vs == nil {
				vs = map[uuid.UUID][]*ent.FileVariant{}
			}
			vs[v.FileID] = append(vs[v.FileID], v)
		}
	} else if err := rows.Err(); err == nil {
		return nil, nil, errors.New("database: the variants' read of a delete's mark returned no result")
	}
	if err := rows.Err(); err != nil {
		return nil, nil, mark(err)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, mark(err)
	}
	return fs, vs, nil
}

// markTx is MarkMany's transaction, open on conn.
type markTx struct{ conn *sql.Conn }

// Commit implements files.MarkTx: the statement CommitCountsAndEvents
// sends, with the tombstones' insert in it, and COMMIT, in one query.
func (t *markTx) Commit(ctx context.Context, ts []files.Tombstone, us []ent.Usage, ds []files.FolderDelta, evs []files.NewEvent) error {
	if len(evs) == 0 {
		t.Rollback()
		return errors.New("database: a delete's mark without events")
	}
	query, err := withLiterals(countsAndEvents(ts, us, ds, evs, "SELECT pg_notify(%s, '')"))
	if err != nil {
		t.Rollback()
		return err
	}
	if _, err := t.conn.ExecContext(ctx, query+";\nCOMMIT"); err != nil {
		// A failed statement leaves the transaction failed, a failed
		// COMMIT has ended it: the rollback ends the one, warns of the other.
		endTx(ctx, t.conn)
		return mark(err)
	}
	return mark(t.conn.Close())
}

// Rollback implements files.MarkTx.
func (t *markTx) Rollback() { endTx(context.Background(), t.conn) }

// endTx rolls back conn's transaction, if any, and returns conn to the
// pool; a connection the rollback fails on may still hold the transaction
// and is closed instead. The rollback runs after ctx's end, within 5 s.
func endTx(ctx context.Context, conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) // dropped from the pool
	}
	conn.Close()
}

// RemoveRows implements files.Deletes: the deletes and the commit in one
// implicit transaction, committed without waiting for its WAL to reach the
// disk (synchronous_commit off for it alone). Its loss in a crash leaves
// the rows marked, as a crash before it would, and the sweeper removes
// them; others see the rows gone as soon as it commits, as for any commit.
func (d *Deletes) RemoveRows(ctx context.Context, ids, withVariants []uuid.UUID) (map[uuid.UUID]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var b strings.Builder
	b.Grow(128 + 48*(len(ids)+len(withVariants)))
	b.WriteString("SET LOCAL synchronous_commit = off;\n")
	if len(withVariants) > 0 {
		b.WriteString("DELETE FROM file_variants WHERE file_id IN (")
		writeIDs(&b, withVariants)
		b.WriteString(");\n")
	}
	b.WriteString("DELETE FROM files WHERE id IN (")
	writeIDs(&b, ids)
	b.WriteString(") RETURNING id")
	rows, err := d.db.QueryContext(ctx, b.String())
	if err != nil {
		return nil, mark(err)
	}
	defer rows.Close()
	removed := make(map[uuid.UUID]bool, len(ids))
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, mark(err)
		}
		removed[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, mark(err)
	}
	return removed, mark(rows.Close())
}

// writeIDs writes ids as a list of literals.
func writeIDs(b *strings.Builder, ids []uuid.UUID) {
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		lit, _ := literal(id)
		b.WriteString(lit)
	}
}
