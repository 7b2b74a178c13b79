package files

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	entgo "entgo.io/ent"

	"github.com/filegraph/filegraph/ent"
)

// Each user's usage row (ent/schema/usage.go) holds their pending and saved
// counts and bytes. Every transaction that adds or removes an upload or a
// file changes the row in the same transaction, so it is exact, and limits
// are checked by one conditional update of it instead of counting rows:
// the cost does not grow with what the user holds, and the row lock is held
// only from that update to the commit. The statements are plain SQL that
// PostgreSQL and SQLite both run.

// usageDelta is a change to one user's usage row.
type usageDelta struct {
	PendingCount, PendingBytes, SavedCount, SavedBytes int64
}

const upsertUsage = `INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (owner) DO UPDATE SET
		pending_count = usages.pending_count + excluded.pending_count,
		pending_bytes = usages.pending_bytes + excluded.pending_bytes,
		saved_count = usages.saved_count + excluded.saved_count,
		saved_bytes = usages.saved_bytes + excluded.saved_bytes`

// addUsage applies d to owner's usage row in tx, unconditionally: for what
// leaves (saves, sweeps, deletes), which no limit holds back.
func addUsage(ctx context.Context, tx *ent.Tx, owner string, d usageDelta) error {
	if _, err := tx.ExecContext(ctx, upsertUsage, owner, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes); err != nil {
		return dbError("updating usage", err)
	}
	return nil
}

// reserve adds count pending uploads of bytes in all to owner's usage if
// they fit under the limits (MAX_PENDING_UPLOADS, USER_QUOTA_BYTES), and
// returns a *LimitError otherwise, leaving the row as it was. Call it in the
// transaction that records the uploads, after inserting them: the row stays
// locked from here to the commit, which should follow at once. An upload
// counts by its full size from the moment it is issued (a multipart upload
// too, not part by part).
func (s *Service) reserve(ctx context.Context, tx *ent.Tx, owner string, count int, bytes int64) error {
	lim := s.cfg.Limits
	if lim.MaxPendingUploads > 0 && int64(count) > int64(lim.MaxPendingUploads) ||
		lim.UserQuotaBytes > 0 && bytes > lim.UserQuotaBytes {
		// Over the limit on its own: the insert below would not check it.
		return s.refusal(ctx, tx, owner, count, bytes)
	}
	var conds []string
	if lim.MaxPendingUploads > 0 {
		conds = append(conds, fmt.Sprintf("usages.pending_count + excluded.pending_count <= %d", lim.MaxPendingUploads))
	}
	if lim.UserQuotaBytes > 0 {
		conds = append(conds, fmt.Sprintf("usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= %d", lim.UserQuotaBytes))
	}
	query := upsertUsage
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	res, err := tx.ExecContext(ctx, query, owner, int64(count), bytes, 0, 0)
	if err != nil {
		return dbError("reserving usage", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError("reserving usage", err)
	}
	if n == 0 { // the row is there and the update's condition refused it
		return s.refusal(ctx, tx, owner, count, bytes)
	}
	return nil
}

// refusal says which limit count more uploads of bytes would break.
func (s *Service) refusal(ctx context.Context, tx *ent.Tx, owner string, count int, asked int64) error {
	var pendingCount, pendingBytes, saved int64
	rows, err := tx.QueryContext(ctx, "SELECT pending_count, pending_bytes, saved_bytes FROM usages WHERE owner = $1", owner)
	if err != nil {
		return dbError("reading usage", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&pendingCount, &pendingBytes, &saved)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dbError("reading usage", err)
	}
	lim := s.cfg.Limits
	if after := pendingCount + int64(count); lim.MaxPendingUploads > 0 && after > int64(lim.MaxPendingUploads) {
		return &LimitError{Limit: "MAX_PENDING_UPLOADS", Message: fmt.Sprintf(
			"%d more uploads would make %d pending, %d over the limit of %d; save or wait for pending uploads to expire",
			count, after, after-int64(lim.MaxPendingUploads), lim.MaxPendingUploads)}
	}
	used := saved + pendingBytes
	return &LimitError{Limit: "USER_QUOTA_BYTES", Message: fmt.Sprintf(
		"%d more bytes would be %d bytes over your quota of %d (%d saved, %d pending)",
		asked, used+asked-lim.UserQuotaBytes, lim.UserQuotaBytes, saved, pendingBytes)}
}

// savedCount is the number of owner's files, less those being deleted,
// read from their usage row.
func (s *Service) savedCount(ctx context.Context, owner string) (int, error) {
	var n int64
	rows, err := s.db.QueryContext(ctx, "SELECT saved_count FROM usages WHERE owner = $1", owner)
	if err != nil {
		return 0, dbError("reading usage", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return 0, dbError("reading usage", err)
	}
	return int(n), nil
}

// countKey carries, into a listing's context, how to count its files
// without counting rows; see countFromUsage.
type countKey struct{}

// countFromUsage answers the file count of a listing that List marked as
// being all of one user's files from the user's usage row, so that
// totalCount costs the same at a thousand files as at a million.
func countFromUsage(next ent.Querier) ent.Querier {
	return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
		if count, ok := ctx.Value(countKey{}).(func(context.Context) (int, error)); ok {
			if qc := entgo.QueryFromContext(ctx); qc != nil && qc.Op == entgo.OpQueryCount {
				return count(ctx)
			}
		}
		return next.Query(ctx, q)
	})
}

// inTx runs fn in a transaction and commits if it returns nil.
func (s *Service) inTx(ctx context.Context, what string, fn func(*ent.Tx) error) (err error) {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return dbError("starting transaction", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError("committing "+what, err)
	}
	return nil
}
